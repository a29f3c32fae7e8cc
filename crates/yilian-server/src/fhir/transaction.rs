//! `POST /fhir` with a `transaction` Bundle: a hospital system pushes a
//! patient, an encounter and its conditions, observations (and, as the
//! other mappers land, prescriptions) at once. All or nothing: the bundle
//! is checked whole before anything is written (`bundle::parse_transaction`),
//! then every entry runs in **one** database transaction; the first refusal
//! rolls everything back and is answered with an OperationOutcome naming
//! `Bundle.entry[i]…`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use yilian_domain::access::Principal;
use yilian_fhir::Outcome;
use yilian_fhir::bundle::{
    EntryResult, Method, Op, PlannedEntry, parse_transaction, transaction_response,
};
use yilian_fhir::practitioner::PractitionerRoleIn;
use yilian_fhir::reference::Ref;
use yilian_store::Conn;
use yilian_store::registry;

use super::{FhirError, FhirResult, body_json, fhir_json, not_found, parse_id, principal};
use crate::api::registry::institution_data;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn handle(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
    _headers: HeaderMap,
    body: Bytes,
) -> FhirResult<Response> {
    let p = principal(auth)?;
    let v = body_json(&body)?;
    let plan = parse_transaction(&v, s.today())?;
    let mut tx = s.store.write().await?;
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<EntryResult>> = vec![None; plan.entry_count];
    for step in &plan.steps {
        let (rt, w) = run(&s, &p, &mut tx, step, &plan.steps, &created)
            .await
            .map_err(|e| at_entry(e, step))?;
        if let Some(u) = &step.full_url {
            created.insert(u.clone(), w.0.clone());
        }
        let status = match step.method {
            Method::Post => "201 Created",
            Method::Put => "200 OK",
        };
        results[step.index] = Some(EntryResult {
            status: status.into(),
            location: format!("{rt}/{}/_history/{}", w.0, w.1),
            etag: yilian_fhir::etag(w.1),
        });
    }
    tx.commit().await?;
    let results: Vec<EntryResult> = results.into_iter().flatten().collect();
    Ok(fhir_json(StatusCode::OK, &transaction_response(&results)))
}

/// A stored id and its version after the step.
#[derive(Debug, Clone)]
struct Written(String, i64);

impl Written {
    fn new(id: i64, version: i64) -> Written {
        Written(id.to_string(), version)
    }
}

/// Places a step's refusal at its entry: `Patient.name` → `Bundle.entry[2].resource.name`.
fn at_entry(mut e: FhirError, step: &PlannedEntry) -> FhirError {
    let rt = step.op.resource_type();
    let prefix = format!("Bundle.entry[{}]", step.index);
    for issue in &mut e.0.issues {
        issue.expression = Some(match issue.expression.take() {
            Some(x) if x.starts_with(&format!("{rt}.")) => {
                format!("{prefix}.resource{}", &x[rt.len()..])
            }
            Some(x) if x.starts_with("Bundle.") => x,
            Some(x) if !x.is_empty() => format!("{prefix}.resource.{x}"),
            _ => prefix.clone(),
        });
    }
    e
}

async fn run(
    s: &AppState,
    p: &Principal,
    tx: &mut Conn,
    step: &PlannedEntry,
    steps: &[PlannedEntry],
    created: &HashMap<String, String>,
) -> FhirResult<(&'static str, Written)> {
    let today = s.today();
    let rt = step.op.resource_type();
    match (&step.op, step.method) {
        (Op::Patient(pin), Method::Post) => {
            let r =
                crate::service::register_resident_in(tx, &s.regions, p, &pin.input, today).await?;
            Ok((rt, Written::new(r.resident.id, r.resident.version)))
        }
        (Op::Patient(pin), Method::Put) => {
            let tid = step.target_id.as_deref().unwrap_or("");
            let id = parse_id(rt, tid)?;
            let current = yilian_store::residents::get(tx, id)
                .await?
                .ok_or_else(|| not_found(rt, tid))?;
            let mut input = pin.input.clone();
            super::patient::keep_unmapped(&mut input, &current);
            let d = crate::service::update_resident_in(tx, p, id, current.version, &input, today)
                .await?;
            Ok((rt, Written::new(d.id, d.version)))
        }
        (Op::Organization(o), m) => {
            let old = match (m, step.target_id.as_deref()) {
                (Method::Put, Some(tid)) => Some(
                    registry::get_institution(tx, parse_id(rt, tid)?)
                        .await?
                        .ok_or_else(|| not_found(rt, tid))?,
                ),
                _ => None,
            };
            if let Some(old) = &old {
                let region = yilian_domain::region::RegionCode::parse(&old.region_code)
                    .map_err(|_| FhirError::from(ApiError::internal()))?;
                crate::service::authorize_registry_write(p, &region)?;
            }
            let d = institution_data(tx, p, &super::registry::input_of(o, old.as_ref())).await?;
            let row = match &old {
                Some(old) => registry::update_institution(tx, old.id, old.version, &d).await?,
                None => registry::insert_institution(tx, &d).await?,
            };
            Ok((rt, Written::new(row.id, row.version)))
        }
        (Op::Record(e), Method::Post) => {
            let (resident_id, req) = super::record::entry_request(rt, e, p, created)?;
            let row = crate::record::add_entry_in(tx, p, resident_id, &req).await?;
            Ok((rt, Written::new(row.id, 1)))
        }
        (Op::Prescription(m), Method::Post) => {
            let row = super::record::write_prescription(tx, p, m, created, today).await?;
            Ok((rt, Written::new(row.id, 1)))
        }
        (Op::Report(d), Method::Post) => {
            let row = super::record::write_report(tx, p, d, created).await?;
            Ok((rt, Written::new(row.id, 1)))
        }
        (Op::Practitioner(pin), Method::Post) => {
            // Its practice sites are the bundle's PractitionerRoles that
            // reference it; they are written with it.
            let me = step
                .full_url
                .as_deref()
                .map(|u| Ref::Placeholder(u.to_string()));
            let roles: Vec<&PractitionerRoleIn> = steps
                .iter()
                .filter_map(|st| match &st.op {
                    Op::PractitionerRole(r) if Some(&r.practitioner) == me.as_ref() => Some(&**r),
                    _ => None,
                })
                .collect();
            let path = format!("Bundle.entry[{}]", step.index);
            let row =
                super::people::register_practitioner_in(tx, p, pin, &roles, created, &path).await?;
            Ok((rt, Written::new(row.row.id, row.row.version)))
        }
        (Op::Practitioner(pin), Method::Put) => {
            let tid = step.target_id.as_deref().unwrap_or("");
            let row = super::people::update_practitioner_in(tx, p, tid, pin, None).await?;
            Ok((rt, Written::new(row.row.id, row.row.version)))
        }
        (Op::PractitionerRole(role), Method::Post) => {
            if let Ref::Placeholder(_) = role.practitioner {
                // Registered with its practitioner earlier in this bundle.
                let pid = role
                    .practitioner
                    .resolve(created)
                    .ok_or_else(|| FhirError::from(ApiError::internal()))?;
                let iid = role
                    .institution
                    .resolve(created)
                    .ok_or_else(|| FhirError::from(ApiError::internal()))?;
                return Ok((rt, Written(format!("{pid}-{iid}"), 1)));
            }
            let v = super::people::add_site_in(tx, p, role).await?;
            let id = v["id"].as_str().unwrap_or_default().to_string();
            Ok((rt, Written(id, 1)))
        }
        (
            Op::Record(_) | Op::Prescription(_) | Op::Report(_) | Op::PractitionerRole(_),
            Method::Put,
        ) => Err(FhirError(Outcome::not_supported(
            &format!("Bundle.entry[{}].request.method", step.index),
            format!("健康档案条目只增不改：{rt} 不支持 PUT"),
            format!("record entries are append-only: {rt} does not support PUT"),
        ))
        .with_status(405)),
    }
}

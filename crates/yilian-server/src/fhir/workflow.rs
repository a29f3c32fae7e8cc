//! The referral workflow: ServiceRequest + Task, Schedule, Slot, Appointment.

use serde_json::Value;
use yilian_domain::access::Principal;
use yilian_fhir::capability::ResourceSupport;

use super::{FhirResult, Found, Params, unsupported};
use crate::state::AppState;

/// What this module serves (see [`super::support`]).
pub fn support() -> Vec<ResourceSupport> {
    vec![]
}

pub async fn read(_s: &AppState, _p: &Principal, rt: &str, _id: &str) -> FhirResult<Value> {
    Err(unsupported(rt))
}

pub async fn search(_s: &AppState, _p: &Principal, rt: &str, _q: &Params) -> FhirResult<Found> {
    Err(unsupported(rt))
}

pub async fn create(_s: &AppState, _p: &Principal, rt: &str, _v: &Value) -> FhirResult<Value> {
    Err(unsupported(rt))
}

pub async fn update(
    _s: &AppState,
    _p: &Principal,
    rt: &str,
    _id: &str,
    _v: &Value,
    _want: Option<i64>,
) -> FhirResult<Value> {
    Err(unsupported(rt))
}

//! yilian-fhir — HL7 FHIR R4 (4.0.1) mapping for yilian's `/fhir` facade.
//!
//! Pure: no IO, no async, no SQL. The server routes requests, loads rows,
//! checks access and stores; this crate turns rows into FHIR JSON and FHIR
//! JSON into validated yilian inputs, and every refusal into an
//! [`outcome::Outcome`] (`OperationOutcome` + HTTP status) that names the
//! element path.
//!
//! - [`identifiers`] — system URIs (identity number, health card,
//!   institution and practitioner codes, ICD-10, lab items, extensions);
//! - [`outcome`] — `OperationOutcome` from `yilian_domain::Explain` or
//!   structural errors;
//! - [`patient`], [`organization`], [`clinical`] (Encounter / Condition /
//!   Observation) — the mappers;
//! - [`bundle`] — searchset builder, paging, transaction parser/plan;
//! - [`capability`] — the CapabilityStatement from what is actually supported;
//! - [`json`], [`reference`] — path-aware JSON walking and references.
#![forbid(unsafe_code)]

pub mod audit;
pub mod bundle;
pub mod capability;
pub mod care;
pub mod claim;
pub mod clinical;
pub mod consent;
pub mod coverage;
pub mod identifiers;
pub mod json;
pub mod location;
pub mod measure;
pub mod orders;
pub mod organization;
pub mod outcome;
pub mod patient;
pub mod practitioner;
pub mod reference;
pub mod referral;
pub mod scheduling;

pub use outcome::{IssueType, Outcome};

/// The FHIR version every resource here conforms to.
pub const FHIR_VERSION: &str = "4.0.1";
/// The media type of FHIR JSON.
pub const FHIR_JSON: &str = "application/fhir+json";

/// The weak ETag for a row version (`W/"3"`), as FHIR servers send it.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an `If-Match` header names (`W/"3"`, `"3"` or `3`), or `None`.
pub fn if_match_version(header: &str) -> Option<i64> {
    let h = header.trim();
    let h = h.strip_prefix("W/").unwrap_or(h);
    h.trim_matches('"').parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn etags_round_trip() {
        assert_eq!(super::etag(3), "W/\"3\"");
        assert_eq!(super::if_match_version("W/\"3\""), Some(3));
        assert_eq!(super::if_match_version("\"4\""), Some(4));
        assert_eq!(super::if_match_version("x"), None);
    }
}

//! `OperationOutcome` — every refusal of the FHIR facade, with the element
//! path it concerns and the HTTP status it maps to.
//!
//! Shape of each `issue`:
//!
//! - `severity` — `error` for refusals (`fatal`, `warning`, `information`
//!   exist for completeness);
//! - `code` — the FHIR issue type (<http://hl7.org/fhir/R4/valueset-issue-type.html>);
//! - `details.coding[0]` — yilian's stable error code in the system
//!   [`crate::identifiers::ERROR_CODE_SYSTEM`], the same code `/api/v1` returns;
//! - `details.text` — the Chinese message, with the English one attached as a
//!   standard `translation` extension on `_text` (lang `en`), and repeated in
//!   `diagnostics` for plain readers;
//! - `expression` — the FHIRPath of the element, e.g. `Patient.identifier[0].value`
//!   or `Bundle.entry[2].resource.subject.reference`.
//!
//! HTTP status (FHIR R4 http.html): 400 for a body that cannot be read as the
//! resource (structure), 422 for a readable resource that breaks a FHIR
//! invariant or a yilian rule, 404/403/401/409/412 as the issue type says.

use std::fmt;

use serde_json::{Value, json};
use yilian_domain::Explain;

use crate::identifiers::ERROR_CODE_SYSTEM;

/// `OperationOutcome.issue.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// `OperationOutcome.issue.code` — the FHIR issue type (the subset yilian uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueType {
    /// Content invalid against the specification or a profile.
    Invalid,
    /// A structural issue: not JSON, wrong type, unknown element.
    Structure,
    /// A required element is missing.
    Required,
    /// An element value is invalid.
    Value,
    /// A content validation rule failed (two elements disagree).
    Invariant,
    /// The client needs to log in.
    Login,
    /// The user may not do this (no grounds, wrong role).
    Forbidden,
    /// The referenced resource is not known.
    NotFound,
    /// A version conflict (`If-Match` failed).
    Conflict,
    /// An attempt to create a resource that already exists.
    Duplicate,
    /// The interaction, element or parameter is not supported.
    NotSupported,
    /// Processing failed for a business reason.
    Processing,
    /// An internal error.
    Exception,
}

impl IssueType {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Invariant => "invariant",
            IssueType::Login => "login",
            IssueType::Forbidden => "forbidden",
            IssueType::NotFound => "not-found",
            IssueType::Conflict => "conflict",
            IssueType::Duplicate => "duplicate",
            IssueType::NotSupported => "not-supported",
            IssueType::Processing => "processing",
            IssueType::Exception => "exception",
        }
    }

    /// The HTTP status a refusal of this type is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            IssueType::Structure | IssueType::NotSupported => 400,
            IssueType::Invalid
            | IssueType::Required
            | IssueType::Value
            | IssueType::Invariant
            | IssueType::Processing => 422,
            IssueType::Login => 401,
            IssueType::Forbidden => 403,
            IssueType::NotFound => 404,
            IssueType::Conflict | IssueType::Duplicate => 409,
            IssueType::Exception => 500,
        }
    }

    /// The issue type for a yilian stable error code (as `Explain::code` and
    /// `/api/v1` give it). Unknown codes are `processing` (a business rule).
    pub fn for_code(code: &str) -> IssueType {
        match code {
            "not_found" | "unknown_institution" | "unknown_region" | "unknown_reference" => {
                IssueType::NotFound
            }
            "forbidden" | "no_access_grounds" => IssueType::Forbidden,
            "unauthenticated" | "login_required" => IssueType::Login,
            "version_conflict" => IssueType::Conflict,
            c if c.starts_with("duplicate") => IssueType::Duplicate,
            c if c.ends_with("_mismatch") => IssueType::Invariant,
            c if c.starts_with("invalid") => IssueType::Value,
            "internal" => IssueType::Exception,
            _ => IssueType::Processing,
        }
    }
}

/// One `OperationOutcome.issue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueType,
    /// yilian's stable snake_case error code.
    pub yilian_code: String,
    pub zh: String,
    pub en: String,
    /// FHIRPath of the element concerned; empty when it concerns the whole request.
    pub expression: Option<String>,
}

impl Issue {
    pub fn to_json(&self) -> Value {
        let mut o = json!({
            "severity": self.severity.as_str(),
            "code": self.code.as_str(),
            "details": {
                "coding": [{ "system": ERROR_CODE_SYSTEM, "code": self.yilian_code }],
                "text": self.zh,
                "_text": { "extension": [{
                    "url": "http://hl7.org/fhir/StructureDefinition/translation",
                    "extension": [
                        { "url": "lang", "valueCode": "en" },
                        { "url": "content", "valueString": self.en },
                    ],
                }]},
            },
            "diagnostics": self.en,
        });
        if let Some(e) = &self.expression {
            o["expression"] = json!([e]);
        }
        o
    }
}

/// A refusal: one or more issues and the HTTP status to answer with. This is
/// the error type of every fallible function in this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub issues: Vec<Issue>,
    pub status: u16,
}

impl Outcome {
    /// One error issue of `code` at `path` (`""` for none).
    pub fn new(
        code: IssueType,
        yilian_code: &str,
        path: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Outcome {
        Outcome {
            status: code.http_status(),
            issues: vec![Issue {
                severity: Severity::Error,
                code,
                yilian_code: yilian_code.to_string(),
                zh: zh.into(),
                en: en.into(),
                expression: (!path.is_empty()).then(|| path.to_string()),
            }],
        }
    }

    /// A structural error: the body is not the resource it claims to be.
    pub fn structure(path: &str, zh: impl Into<String>, en: impl Into<String>) -> Outcome {
        Outcome::new(IssueType::Structure, "invalid_fhir", path, zh, en)
    }

    /// A required element is missing.
    pub fn required(path: &str, zh: impl Into<String>, en: impl Into<String>) -> Outcome {
        Outcome::new(IssueType::Required, "invalid_fhir", path, zh, en)
    }

    /// An element's value is not acceptable.
    pub fn value(path: &str, zh: impl Into<String>, en: impl Into<String>) -> Outcome {
        Outcome::new(IssueType::Value, "invalid_fhir", path, zh, en)
    }

    /// Something valid FHIR that yilian does not support.
    pub fn not_supported(path: &str, zh: impl Into<String>, en: impl Into<String>) -> Outcome {
        Outcome::new(IssueType::NotSupported, "not_supported", path, zh, en)
    }

    /// A yilian domain refusal placed at the FHIR element `path`; the issue
    /// type follows the stable code ([`IssueType::for_code`]).
    pub fn from_explain(e: &dyn Explain, path: &str) -> Outcome {
        let code = e.code();
        Outcome::new(
            IssueType::for_code(code),
            code,
            path,
            e.message_zh(),
            e.message_en(),
        )
    }

    /// A domain refusal with an explicit issue type.
    pub fn from_explain_as(e: &dyn Explain, code: IssueType, path: &str) -> Outcome {
        Outcome::new(code, e.code(), path, e.message_zh(), e.message_en())
    }

    /// `If-Match` named another version: 412 Precondition Failed.
    pub fn precondition_failed(expected: &str, current: &str) -> Outcome {
        let mut o = Outcome::new(
            IssueType::Conflict,
            "version_conflict",
            "",
            format!("版本冲突：If-Match 为 {expected}，当前版本为 {current}"),
            format!("version conflict: If-Match {expected}, current version {current}"),
        );
        o.status = 412;
        o
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: u16) -> Outcome {
        self.status = status;
        self
    }

    /// Merges the issues of several outcomes into one; the status is the
    /// first issue's (400 wins over 422 so a structural fault is not hidden).
    pub fn merge(outcomes: Vec<Outcome>) -> Option<Outcome> {
        let status = outcomes
            .iter()
            .map(|o| o.status)
            .find(|s| *s == 400)
            .or_else(|| outcomes.first().map(|o| o.status))?;
        Some(Outcome {
            status,
            issues: outcomes.into_iter().flat_map(|o| o.issues).collect(),
        })
    }

    /// The first issue (there is always one).
    pub fn first(&self) -> &Issue {
        &self.issues[0]
    }

    /// The first issue's expression, if any.
    pub fn expression(&self) -> Option<&str> {
        self.issues.first()?.expression.as_deref()
    }

    /// The `OperationOutcome` resource.
    pub fn to_json(&self) -> Value {
        json!({
            "resourceType": "OperationOutcome",
            "issue": self.issues.iter().map(Issue::to_json).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, is) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} {}", is.code.as_str(), is.en)?;
            if let Some(e) = &is.expression {
                write!(f, " at {e}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Outcome {}

/// `Outcome` for any `Explain` error with no element path.
impl<E: Explain> From<&E> for Outcome {
    fn from(e: &E) -> Outcome {
        Outcome::from_explain(e, "")
    }
}

/// A successful-operation outcome with one informational issue (e.g. the
/// body of a `transaction` that changed nothing, or a delete).
pub fn information(zh: &str, en: &str) -> Value {
    let issue = Issue {
        severity: Severity::Information,
        code: IssueType::Processing,
        yilian_code: "ok".into(),
        zh: zh.into(),
        en: en.into(),
        expression: None,
    };
    json!({ "resourceType": "OperationOutcome", "issue": [issue.to_json()] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use yilian_domain::id_number::IdNumberError;

    #[test]
    fn explain_errors_map_to_issue_types_and_statuses() {
        let e = IdNumberError::Length(3);
        let o = Outcome::from_explain(&e, "Patient.identifier[0].value");
        assert_eq!(o.first().code, IssueType::Value);
        assert_eq!(o.status, 422);
        let j = o.to_json();
        assert_eq!(j["issue"][0]["code"], "value");
        assert_eq!(
            j["issue"][0]["expression"][0],
            "Patient.identifier[0].value"
        );
        assert_eq!(
            j["issue"][0]["details"]["coding"][0]["code"],
            "invalid_id_number"
        );
        assert!(
            j["issue"][0]["details"]["text"]
                .as_str()
                .unwrap()
                .contains("18位")
        );
        assert_eq!(
            IssueType::for_code("id_number_mismatch"),
            IssueType::Invariant
        );
        assert_eq!(IssueType::for_code("no_access_grounds").http_status(), 403);
        assert_eq!(
            IssueType::for_code("unknown_institution").http_status(),
            404
        );
        assert_eq!(IssueType::for_code("version_conflict").http_status(), 409);
        assert_eq!(
            IssueType::for_code("duplicate_id_number").http_status(),
            409
        );
        assert_eq!(
            Outcome::precondition_failed("W/\"1\"", "W/\"2\"").status,
            412
        );
    }

    #[test]
    fn merge_keeps_every_issue_and_prefers_400() {
        let a = Outcome::value("A.b", "甲", "a");
        let b = Outcome::structure("A.c", "乙", "b");
        let m = Outcome::merge(vec![a, b]).unwrap();
        assert_eq!(m.issues.len(), 2);
        assert_eq!(m.status, 400);
        assert!(Outcome::merge(vec![]).is_none());
    }
}

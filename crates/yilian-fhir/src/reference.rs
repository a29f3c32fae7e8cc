//! `Reference.reference` as yilian reads it: a relative `Type/id` to a
//! stored resource, or a `urn:uuid:` placeholder for a resource created in
//! the same transaction bundle.

use std::collections::HashMap;

use crate::json::{Node, is_fhir_id};
use crate::outcome::Outcome;

/// A reference read from FHIR input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ref {
    /// `Type/id` — a resource already stored (the server checks it exists).
    Stored { resource_type: String, id: String },
    /// `urn:uuid:…` — an entry of the same transaction bundle.
    Placeholder(String),
}

impl Ref {
    /// The reference string (`Patient/12`, `urn:uuid:…`).
    pub fn as_reference(&self) -> String {
        match self {
            Ref::Stored { resource_type, id } => format!("{resource_type}/{id}"),
            Ref::Placeholder(u) => u.clone(),
        }
    }

    /// The stored id, after placeholders have been replaced with the ids the
    /// server assigned (`created`: fullUrl → id, filled in plan order).
    pub fn resolve(&self, created: &HashMap<String, String>) -> Option<String> {
        match self {
            Ref::Stored { id, .. } => Some(id.clone()),
            Ref::Placeholder(u) => created.get(u).cloned(),
        }
    }
}

/// Whether `s` is `urn:uuid:` followed by a canonical lower- or upper-case UUID.
pub fn is_urn_uuid(s: &str) -> bool {
    let Some(u) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    let b = u.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Reads the `Reference` at `node` (an object with `reference`), which must
/// point at one of `types`. The error names `{path}.reference`.
pub fn read_ref(node: &Node<'_>, types: &[&str]) -> Result<Ref, Outcome> {
    node.object()?;
    let r = node.req("reference")?;
    let s = r.string()?.trim();
    if s.starts_with("urn:uuid:") {
        if !is_urn_uuid(s) {
            return Err(Outcome::value(
                &r.path,
                format!("{s} 不是有效的 urn:uuid"),
                format!("{s} is not a valid urn:uuid"),
            ));
        }
        return Ok(Ref::Placeholder(s.to_string()));
    }
    let parts: Vec<&str> = s.split('/').collect();
    let [rt, id] = parts.as_slice() else {
        return Err(Outcome::not_supported(
            &r.path,
            format!(
                "只支持相对引用（如 {}/123）或 urn:uuid，实际为 {s}",
                types[0]
            ),
            format!(
                "only relative references ({}/123) or urn:uuid are supported, got {s}",
                types[0]
            ),
        ));
    };
    if !types.contains(rt) {
        return Err(Outcome::value(
            &r.path,
            format!("应引用 {}，实际为 {rt}", types.join("/")),
            format!("must reference {}, got {rt}", types.join(" or ")),
        ));
    }
    if !is_fhir_id(id) {
        return Err(Outcome::value(
            &r.path,
            format!("{id} 不是有效的资源 id"),
            format!("{id} is not a valid resource id"),
        ));
    }
    Ok(Ref::Stored {
        resource_type: (*rt).to_string(),
        id: (*id).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_read_and_refuse_with_paths() {
        let v = json!({"reference": "Patient/12"});
        let n = Node::new(&v, "Encounter.subject");
        assert_eq!(
            read_ref(&n, &["Patient"]).unwrap(),
            Ref::Stored {
                resource_type: "Patient".into(),
                id: "12".into()
            }
        );
        let e = read_ref(&n, &["Organization"]).unwrap_err();
        assert_eq!(e.expression(), Some("Encounter.subject.reference"));
        let v = json!({"reference": "urn:uuid:0f6c2f54-3b0e-4d5e-9a59-0b7a1e2f3c4d"});
        assert!(matches!(
            read_ref(&Node::new(&v, "X"), &["Patient"]).unwrap(),
            Ref::Placeholder(_)
        ));
        let v = json!({"reference": "urn:uuid:nope"});
        assert!(read_ref(&Node::new(&v, "X"), &["Patient"]).is_err());
        let v = json!({"reference": "http://other/fhir/Patient/1"});
        assert_eq!(
            read_ref(&Node::new(&v, "X"), &["Patient"])
                .unwrap_err()
                .first()
                .code,
            crate::outcome::IssueType::NotSupported
        );
    }
}

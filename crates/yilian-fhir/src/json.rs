//! Walking FHIR JSON with the element path at hand, so that every refusal
//! names the FHIRPath of the element (`Patient.name[0].text`).
//!
//! `serde` derive errors carry no path, so the parsers read
//! `serde_json::Value` through [`Node`] instead and check element names
//! against each resource's R4 element list ([`Node::known_elements`]), the
//! equivalent of `deny_unknown_fields` that still allows `_x` primitive
//! extensions.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{Map, Value};

use crate::outcome::Outcome;

/// A JSON value and its FHIRPath.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub value: &'a Value,
    pub path: String,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl<'a> Node<'a> {
    pub fn new(value: &'a Value, path: impl Into<String>) -> Node<'a> {
        Node {
            value,
            path: path.into(),
        }
    }

    fn wrong(&self, expected: &str) -> Outcome {
        Outcome::structure(
            &self.path,
            format!("应为{expected}，实际为{}", type_name(self.value)),
            format!("expected {expected}, got {}", type_name(self.value)),
        )
    }

    pub fn object(&self) -> Result<&'a Map<String, Value>, Outcome> {
        self.value.as_object().ok_or_else(|| self.wrong("object"))
    }

    /// A child element; `None` when absent or `null`.
    pub fn field(&self, name: &str) -> Option<Node<'a>> {
        let v = self.value.as_object()?.get(name)?;
        (!v.is_null()).then(|| Node::new(v, format!("{}.{name}", self.path)))
    }

    /// A required child element.
    pub fn req(&self, name: &str) -> Result<Node<'a>, Outcome> {
        self.object()?;
        self.field(name).ok_or_else(|| {
            let p = format!("{}.{name}", self.path);
            Outcome::required(
                &p,
                format!("缺少必填元素 {name}"),
                format!("{name} is required"),
            )
        })
    }

    /// The items of an array, each with its `[i]` path. FHIR arrays are never empty.
    pub fn array(&self) -> Result<Vec<Node<'a>>, Outcome> {
        let items = self.value.as_array().ok_or_else(|| self.wrong("array"))?;
        if items.is_empty() {
            return Err(Outcome::structure(
                &self.path,
                "FHIR 数组不能为空",
                "FHIR arrays may not be empty",
            ));
        }
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| Node::new(v, format!("{}[{i}]", self.path)))
            .collect())
    }

    /// A non-empty string (FHIR strings may not be empty or all whitespace).
    pub fn string(&self) -> Result<&'a str, Outcome> {
        let s = self.value.as_str().ok_or_else(|| self.wrong("string"))?;
        if s.trim().is_empty() {
            return Err(Outcome::structure(
                &self.path,
                "字符串不能为空",
                "strings may not be empty",
            ));
        }
        Ok(s)
    }

    /// An optional child string.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, Outcome> {
        self.field(name).map(|n| n.string()).transpose()
    }

    pub fn boolean(&self) -> Result<bool, Outcome> {
        self.value.as_bool().ok_or_else(|| self.wrong("boolean"))
    }

    /// Refuses element names that are not in `known` (a `_name` is allowed
    /// when `name` is). `resourceType` is always allowed.
    pub fn known_elements(&self, known: &[&str]) -> Result<(), Outcome> {
        for k in self.object()?.keys() {
            let base = k.strip_prefix('_').unwrap_or(k);
            if k != "resourceType" && !known.contains(&base) {
                let p = format!("{}.{k}", self.path);
                return Err(Outcome::structure(
                    &p,
                    format!("未知元素 {k}"),
                    format!("unknown element {k}"),
                ));
            }
        }
        Ok(())
    }

    /// Refuses element names that are neither a DomainResource element
    /// ([`DOMAIN_RESOURCE_ELEMENTS`], with `identifier`) nor in `specific`.
    pub fn known_resource_elements(&self, specific: &[&str]) -> Result<(), Outcome> {
        let all: Vec<&str> = DOMAIN_RESOURCE_ELEMENTS
            .iter()
            .chain(specific)
            .copied()
            .collect();
        self.known_elements(&all)
    }

    /// `resourceType` must be `expected`.
    pub fn resource_type(&self, expected: &str) -> Result<(), Outcome> {
        let rt = self.req("resourceType")?;
        let s = rt.string()?;
        if s != expected {
            return Err(Outcome::structure(
                &rt.path,
                format!("resourceType 应为 {expected}，实际为 {s}"),
                format!("resourceType must be {expected}, got {s}"),
            ));
        }
        Ok(())
    }

    /// A FHIR `date` (full `YYYY-MM-DD`; partial dates are refused).
    pub fn date(&self) -> Result<NaiveDate, Outcome> {
        let s = self.string()?;
        parse_date(s).ok_or_else(|| {
            Outcome::value(
                &self.path,
                format!("{s} 不是有效日期（YYYY-MM-DD）"),
                format!("{s} is not a date (YYYY-MM-DD)"),
            )
        })
    }

    /// A FHIR `dateTime` or `instant` as China Standard Time (UTC+8), the
    /// store's `YYYY-MM-DDTHH:MM:SS`. A date alone is midnight; a time must
    /// carry its offset (FHIR rule); year or year-month alone is refused.
    pub fn date_time_cst(&self) -> Result<NaiveDateTime, Outcome> {
        let s = self.string()?;
        parse_date_time_cst(s).ok_or_else(|| {
            Outcome::value(
                &self.path,
                format!("{s} 不是有效的日期时间（如 2026-11-01T08:30:00+08:00）"),
                format!(
                    "{s} is not a dateTime with day and offset (e.g. 2026-11-01T08:30:00+08:00)"
                ),
            )
        })
    }
}

/// A full FHIR `date`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The UTC+8 offset of China Standard Time.
pub fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A FHIR `dateTime` at day precision or finer, in China Standard Time.
pub fn parse_date_time_cst(s: &str) -> Option<NaiveDateTime> {
    if let Some(d) = parse_date(s) {
        return Some(d.and_time(NaiveTime::MIN));
    }
    let dt = DateTime::parse_from_rfc3339(s).ok()?;
    Some(dt.with_timezone(&cst()).naive_local())
}

/// A store timestamp as a FHIR `dateTime` with `+08:00`; `None` if
/// unreadable. The store keeps two forms: clinical times in China Standard
/// Time (`YYYY-MM-DDTHH:MM:SS`, or with a space), and row bookkeeping
/// (`created_at`, `updated_at`) in UTC with a `Z`; both come out in CST.
pub fn cst_to_fhir(s: &str) -> Option<String> {
    let t = s.trim().replace(' ', "T");
    if t.ends_with('Z') {
        let dt = DateTime::parse_from_rfc3339(&t).ok()?.with_timezone(&cst());
        return Some(dt.format("%Y-%m-%dT%H:%M:%S+08:00").to_string());
    }
    let dt = NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| parse_date(&t).map(|d| d.and_time(NaiveTime::MIN)))?;
    Some(format!("{}+08:00", dt.format("%Y-%m-%dT%H:%M:%S")))
}

/// Whether `s` is a FHIR `id`: 1–64 of `A-Z a-z 0-9 - .`.
pub fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The elements every mapped R4 resource has: DomainResource's, and
/// `identifier` (all of yilian's resources carry one).
pub const DOMAIN_RESOURCE_ELEMENTS: &[&str] = &[
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
    "identifier",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_follow_the_walk() {
        let v = json!({"a": [{"b": 1}, {"b": "x"}]});
        let n = Node::new(&v, "R");
        let items = n.req("a").unwrap().array().unwrap();
        let e = items[0].req("b").unwrap().string().unwrap_err();
        assert_eq!(e.expression(), Some("R.a[0].b"));
        assert_eq!(items[1].req("b").unwrap().string().unwrap(), "x");
        assert_eq!(n.req("c").unwrap_err().expression(), Some("R.c"));
        let e = n.known_elements(&["b"]).unwrap_err();
        assert_eq!(e.expression(), Some("R.a"));
    }

    #[test]
    fn utc_bookkeeping_times_become_cst() {
        assert_eq!(
            cst_to_fhir("2026-11-21T18:30:00Z").as_deref(),
            Some("2026-11-22T02:30:00+08:00")
        );
        assert_eq!(
            cst_to_fhir("2026-11-22T02:30:00").as_deref(),
            Some("2026-11-22T02:30:00+08:00")
        );
    }

    #[test]
    fn date_times_become_cst() {
        assert_eq!(
            parse_date_time_cst("2026-11-01T00:30:00Z")
                .unwrap()
                .to_string(),
            "2026-11-01 08:30:00"
        );
        assert_eq!(
            parse_date_time_cst("2026-11-01").unwrap().to_string(),
            "2026-11-01 00:00:00"
        );
        assert!(parse_date_time_cst("2026-11").is_none());
        assert!(parse_date_time_cst("2026-11-01T08:30:00").is_none());
        assert_eq!(
            cst_to_fhir("2026-11-01T08:30:00").as_deref(),
            Some("2026-11-01T08:30:00+08:00")
        );
        assert!(is_fhir_id("123") && !is_fhir_id("a/b") && !is_fhir_id(""));
    }
}

//! `Organization` ↔ yilian institution (医疗卫生机构).
//!
//! `Organization.type` carries two codings: the HL7 organization type
//! (`prov` healthcare provider; `govt` for the CDC) and yilian's institution
//! kind in [`INSTITUTION_KIND_SYSTEM`] with its Chinese label as display.
//! The institution code is `identifier` in [`INSTITUTION_CODE_SYSTEM`]; the
//! region code rides on the address as in Patient.

use serde_json::{Value, json};
use yilian_domain::region::RegionCode;
use yilian_domain::registry::InstitutionKind;

use crate::identifiers::{
    INSTITUTION_CODE_SYSTEM, INSTITUTION_KIND_SYSTEM, REGION_CODE_EXTENSION, identifier,
    identifier_value,
};
use crate::json::Node;
use crate::outcome::Outcome;

/// HL7 organization-type code system.
pub const HL7_ORG_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/organization-type";

/// The institution fields an Organization carries (mirrors `InstitutionRow`).
#[derive(Debug, Clone, PartialEq)]
pub struct InstitutionFhir {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub region_code: String,
    pub address: String,
    /// Part of a consortium (医联体): `partOf` the lead institution, if known.
    pub part_of: Option<i64>,
    pub version: Option<i64>,
}

/// An Organization read from FHIR (the server checks the region is
/// registered and the kind fits its level, as `/api/v1` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationIn {
    pub id: Option<String>,
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub region_code: RegionCode,
    pub address: String,
}

/// The institution as a FHIR `Organization`.
pub fn to_fhir(i: &InstitutionFhir) -> Value {
    let hl7 = if i.kind == InstitutionKind::Cdc {
        ("govt", "Government")
    } else {
        ("prov", "Healthcare Provider")
    };
    let mut o = json!({
        "resourceType": "Organization",
        "id": i.id.to_string(),
        "identifier": [identifier(INSTITUTION_CODE_SYSTEM, &i.code)],
        "active": true,
        "type": [{
            "coding": [
                { "system": HL7_ORG_TYPE_SYSTEM, "code": hl7.0, "display": hl7.1 },
                { "system": INSTITUTION_KIND_SYSTEM, "code": i.kind.as_str(), "display": i.kind.label_zh() },
            ],
            "text": i.kind.label_zh(),
        }],
        "name": i.name,
        "address": [{
            "extension": [{ "url": REGION_CODE_EXTENSION, "valueCode": i.region_code }],
            "country": "CN",
        }],
    });
    if !i.address.is_empty() {
        o["address"][0]["text"] = json!(i.address);
    }
    if let Some(v) = i.version {
        o["meta"] = json!({ "versionId": v.to_string() });
    }
    if let Some(p) = i.part_of {
        o["partOf"] = json!({ "reference": format!("Organization/{p}") });
    }
    o
}

const ORGANIZATION_ELEMENTS: &[&str] = &[
    "active", "type", "name", "alias", "telecom", "address", "partOf", "contact", "endpoint",
];

/// Reads a standalone `Organization`.
pub fn from_fhir(v: &Value) -> Result<OrganizationIn, Outcome> {
    from_fhir_at(&Node::new(v, "Organization"))
}

/// Reads an `Organization` at `node`.
pub fn from_fhir_at(node: &Node<'_>) -> Result<OrganizationIn, Outcome> {
    node.resource_type("Organization")?;
    node.known_resource_elements(ORGANIZATION_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let (code, code_path) =
        identifier_value(node.field("identifier"), INSTITUTION_CODE_SYSTEM)?.ok_or_else(|| {
            let p = format!("{}.identifier", node.path);
            Outcome::required(
                &p,
                format!("缺少机构代码（identifier.system = {INSTITUTION_CODE_SYSTEM}）"),
                format!("an institution code is required (identifier.system = {INSTITUTION_CODE_SYSTEM})"),
            )
        })?;
    if code.is_empty()
        || code.len() > 40
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Outcome::value(
            &code_path,
            "机构代码为1至40位字母、数字、-或_",
            "an institution code is 1 to 40 of letters, digits, - or _",
        ));
    }
    let name = node.req("name")?.string()?.trim().to_string();

    let mut kind = None;
    if let Some(types) = node.field("type") {
        'outer: for t in types.array()? {
            if let Some(codings) = t.field("coding") {
                for c in codings.array()? {
                    if c.opt_str("system")? == Some(INSTITUTION_KIND_SYSTEM) {
                        let cn = c.req("code")?;
                        let s = cn.string()?;
                        kind = Some(
                            InstitutionKind::parse_field("kind", s)
                                .map_err(|e| Outcome::from_explain(&e, &cn.path))?,
                        );
                        break 'outer;
                    }
                }
            }
        }
    }
    let kind = kind.ok_or_else(|| {
        let p = format!("{}.type", node.path);
        Outcome::required(
            &p,
            format!("缺少机构类别（type.coding.system = {INSTITUTION_KIND_SYSTEM}）"),
            format!(
                "an institution kind is required (type.coding.system = {INSTITUTION_KIND_SYSTEM})"
            ),
        )
    })?;

    let mut region = None;
    let mut address = String::new();
    let addr_path = format!("{}.address", node.path);
    if let Some(a) = node.field("address") {
        let first = a.array()?.remove(0);
        if let Some(t) = first.opt_str("text")? {
            address = t.trim().to_string();
        }
        if let Some(exts) = first.field("extension") {
            for e in exts.array()? {
                if e.req("url")?.string()? == REGION_CODE_EXTENSION {
                    let v = e.req("valueCode")?;
                    region = Some(
                        RegionCode::parse(v.string()?)
                            .map_err(|err| Outcome::from_explain(&err, &v.path))?,
                    );
                }
            }
        }
    }
    let region_code = region.ok_or_else(|| {
        Outcome::required(
            &addr_path,
            "缺少行政区划代码",
            format!("a region code is required (address.extension {REGION_CODE_EXTENSION})"),
        )
    })?;
    Ok(OrganizationIn {
        id,
        code,
        name,
        kind,
        region_code,
        address,
    })
}

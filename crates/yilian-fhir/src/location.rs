//! `Location` ↔ yilian institution sites and regions (行政区划).
//!
//! Two kinds of Location, told apart by their id and `physicalType`:
//!
//! - **an institution's site** — `Location/{institution id}` (the same id as
//!   its `Organization`), `physicalType` `si` (site), `managingOrganization`
//!   the institution, `partOf` the region it lies in; what a hospital system
//!   expects behind `PractitionerRole.location` or `Encounter.location`;
//! - **a region** (province … village) — `Location/region-{code}`
//!   ([`region_location_id`]), `physicalType` `jdn` (jurisdiction), `partOf`
//!   its parent region (derived from the code, GB/T 2260 + 统计用区划代码).
//!
//! | FHIR element | site (`InstitutionRow`) | region (`RegionRow`) |
//! |---|---|---|
//! | `id` | `id` | `region-{code}` |
//! | `identifier` | `code` in [`INSTITUTION_CODE_SYSTEM`] | `code` in [`REGION_CODE_SYSTEM`] |
//! | `name` | `name` | `name` |
//! | `type` | institution kind in [`INSTITUTION_KIND_SYSTEM`] | level in [`REGION_LEVEL_SYSTEM`] |
//! | `address.text` | `address` | — |
//! | `address.extension[`[`REGION_CODE_EXTENSION`]`]` | `region_code` | `code` |
//! | `position.longitude/latitude` | `lon`/`lat` | `lon`/`lat` |
//! | `managingOrganization` | `Organization/{id}` | — |
//! | `partOf` | `Location/region-{region_code}` | `Location/region-{parent}` |
//!
//! Coordinates are WGS-84 degrees and must lie in China (the domain's
//! `registry::Location::parse`). A region's population is not carried.

use serde_json::{Value, json};
use yilian_domain::region::{RegionCode, RegionLevel};
use yilian_domain::registry::{InstitutionKind, Location as Position};

use crate::identifiers::{
    INSTITUTION_CODE_SYSTEM, INSTITUTION_KIND_SYSTEM, REGION_CODE_EXTENSION, identifier,
    identifier_value,
};
use crate::json::Node;
use crate::outcome::Outcome;
use crate::practitioner::{FieldPaths, bounded_text, check_code, coding_of};
use crate::reference::{Ref, read_ref};

/// 行政区划代码 as an identifier (6, 9 or 12 digits).
pub const REGION_CODE_SYSTEM: &str = "https://yilian.example/fhir/sid/region-code";
/// yilian's region levels (`RegionLevel::as_str`: province … village).
pub const REGION_LEVEL_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/region-level";
/// HL7 location physical types (`si` site, `jdn` jurisdiction, …).
pub const PHYSICAL_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/location-physical-type";
/// The id prefix of region Locations.
pub const REGION_ID_PREFIX: &str = "region-";

/// An institution's site (mirrors the location fields of `InstitutionRow`).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteFhir {
    pub institution_id: i64,
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub region_code: String,
    pub address: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub version: Option<i64>,
}

/// A region (mirrors `RegionRow`).
#[derive(Debug, Clone, PartialEq)]
pub struct RegionFhir {
    pub code: String,
    pub name: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub version: Option<i64>,
}

/// What a Location id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationId {
    /// An institution's site: the institution id.
    Site(i64),
    /// A region: its code.
    Region(String),
}

/// `region-{code}`.
pub fn region_location_id(code: &str) -> String {
    format!("{REGION_ID_PREFIX}{code}")
}

/// What a `Location` id names, or `None` if it is neither form.
pub fn parse_location_id(id: &str) -> Option<LocationId> {
    if let Some(code) = id.strip_prefix(REGION_ID_PREFIX) {
        return RegionCode::parse(code)
            .ok()
            .map(|c| LocationId::Region(c.as_str().to_string()));
    }
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| id.parse().ok().map(LocationId::Site))
        .flatten()
}

fn position(lon: Option<f64>, lat: Option<f64>) -> Option<Value> {
    match (lon, lat) {
        (Some(lon), Some(lat)) => Some(json!({ "longitude": lon, "latitude": lat })),
        _ => None,
    }
}

fn physical(code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": PHYSICAL_TYPE_SYSTEM, "code": code, "display": display }] })
}

fn meta(r: &mut Value, version: Option<i64>) {
    if let Some(v) = version {
        r["meta"] = json!({ "versionId": v.to_string() });
    }
}

/// An institution's site as a FHIR `Location`.
pub fn site_to_fhir(s: &SiteFhir) -> Value {
    let mut r = json!({
        "resourceType": "Location",
        "id": s.institution_id.to_string(),
        "identifier": [identifier(INSTITUTION_CODE_SYSTEM, &s.code)],
        "status": "active",
        "name": s.name,
        "mode": "instance",
        "type": [{
            "coding": [{ "system": INSTITUTION_KIND_SYSTEM, "code": s.kind.as_str(), "display": s.kind.label_zh() }],
            "text": s.kind.label_zh(),
        }],
        "address": {
            "extension": [{ "url": REGION_CODE_EXTENSION, "valueCode": s.region_code }],
            "country": "CN",
        },
        "physicalType": physical("si", "Site"),
        "managingOrganization": {
            "reference": format!("Organization/{}", s.institution_id),
            "display": s.name,
        },
        "partOf": { "reference": format!("Location/{}", region_location_id(&s.region_code)) },
    });
    meta(&mut r, s.version);
    if !s.address.is_empty() {
        r["address"]["text"] = json!(s.address);
    }
    if let Some(p) = position(s.lon, s.lat) {
        r["position"] = p;
    }
    r
}

/// A region as a FHIR `Location` (`None` if its code is not a region code).
pub fn region_to_fhir(g: &RegionFhir) -> Option<Value> {
    let code = RegionCode::parse(&g.code).ok()?;
    let level = code.level();
    let mut r = json!({
        "resourceType": "Location",
        "id": region_location_id(code.as_str()),
        "identifier": [identifier(REGION_CODE_SYSTEM, code.as_str())],
        "status": "active",
        "name": g.name,
        "mode": "instance",
        "type": [{
            "coding": [{ "system": REGION_LEVEL_SYSTEM, "code": level.as_str(), "display": level.label_zh() }],
            "text": level.label_zh(),
        }],
        "address": {
            "extension": [{ "url": REGION_CODE_EXTENSION, "valueCode": code.as_str() }],
            "country": "CN",
        },
        "physicalType": physical("jdn", "Jurisdiction"),
    });
    meta(&mut r, g.version);
    if let Some(p) = position(g.lon, g.lat) {
        r["position"] = p;
    }
    if let Some(parent) = code.parent() {
        r["partOf"] =
            json!({ "reference": format!("Location/{}", region_location_id(parent.as_str())) });
    }
    Some(r)
}

/// R4 Location elements.
const LOCATION_ELEMENTS: &[&str] = &[
    "status",
    "operationalStatus",
    "name",
    "alias",
    "description",
    "mode",
    "type",
    "telecom",
    "address",
    "physicalType",
    "position",
    "managingOrganization",
    "partOf",
    "hoursOfOperation",
    "availabilityExceptions",
    "endpoint",
];

/// A Location read from FHIR.
#[derive(Debug, Clone, PartialEq)]
pub enum LocationIn {
    /// Has a `managingOrganization`: the site of that institution.
    Site(SiteIn),
    /// Has a region-code identifier and no `managingOrganization`.
    Region(RegionIn),
}

/// An institution's site: what the server may update on the institution
/// (address, region, coordinates); the institution itself is registered as
/// an `Organization`.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteIn {
    pub id: Option<String>,
    /// `managingOrganization`.
    pub institution: Ref,
    /// `name`, if given (the server may check it is the institution's).
    pub name: Option<String>,
    /// `address.text` (empty if none).
    pub address: String,
    pub region_code: RegionCode,
    pub position: Option<Position>,
    pub paths: FieldPaths,
}

/// A region as `/api/v1` registers it (`RegionData` without the population).
#[derive(Debug, Clone, PartialEq)]
pub struct RegionIn {
    pub id: Option<String>,
    pub code: RegionCode,
    /// Derived from the code.
    pub level: RegionLevel,
    /// Derived from the code (`partOf`, if given, must name it).
    pub parent_code: Option<RegionCode>,
    pub name: String,
    pub position: Option<Position>,
    pub paths: FieldPaths,
}

/// Reads a standalone `Location`.
pub fn from_fhir(v: &Value) -> Result<LocationIn, Outcome> {
    from_fhir_at(&Node::new(v, "Location"))
}

/// Reads a `Location` at `node`: a site if it has a `managingOrganization`,
/// else a region (identifier in [`REGION_CODE_SYSTEM`] required).
pub fn from_fhir_at(node: &Node<'_>) -> Result<LocationIn, Outcome> {
    node.resource_type("Location")?;
    node.known_resource_elements(LOCATION_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let mut paths = FieldPaths::new(&node.path);
    if let Some(m) = node.field("mode")
        && m.string()? != "instance"
    {
        return Err(Outcome::not_supported(
            &m.path,
            "只支持具体地点（mode = instance）",
            "only mode instance is supported",
        ));
    }
    let physical = match node.field("physicalType") {
        Some(pt) => coding_of(&pt, PHYSICAL_TYPE_SYSTEM)?.map(|(c, _, p)| (c, p)),
        None => None,
    };
    let position = read_position(node, &mut paths)?;
    let (address, region_in_address) = read_address(node, &mut paths)?;

    if let Some(org) = node.field("managingOrganization") {
        if let Some((c, p)) = &physical
            && !matches!(c.as_str(), "si" | "bu")
        {
            return Err(Outcome::value(
                p,
                format!("机构地点的 physicalType 应为 si 或 bu，实际为 {c}"),
                format!("an institution site has physicalType si or bu, got {c}"),
            ));
        }
        let institution = read_ref(&org, &["Organization"])?;
        paths.set("institution_id", &format!("{}.reference", org.path));
        if let Some((code, path)) =
            identifier_value(node.field("identifier"), INSTITUTION_CODE_SYSTEM)?
        {
            check_code(&code, &path)?;
        }
        let name = match node.field("name") {
            Some(n) => {
                paths.set("name", &n.path);
                Some(bounded_text(&n, 100)?)
            }
            None => None,
        };
        let region_code = region_in_address.ok_or_else(|| {
            let p = format!("{}.address", node.path);
            Outcome::required(
                &p,
                format!("缺少行政区划代码（address.extension {REGION_CODE_EXTENSION}）"),
                format!("a region code is required (address.extension {REGION_CODE_EXTENSION})"),
            )
        })?;
        if let Some(part) = node.field("partOf") {
            check_part_of(&part, Some(&region_code), "region_code")?;
        }
        return Ok(LocationIn::Site(SiteIn {
            id,
            institution,
            name,
            address,
            region_code,
            position,
            paths,
        }));
    }

    if let Some((c, p)) = &physical
        && !matches!(c.as_str(), "jdn" | "area")
    {
        return Err(Outcome::value(
            p,
            format!(
                "行政区划的 physicalType 应为 jdn，实际为 {c}（机构地点须有 managingOrganization）"
            ),
            format!(
                "a region has physicalType jdn, got {c} (an institution site needs managingOrganization)"
            ),
        ));
    }
    let (code, code_path) = identifier_value(node.field("identifier"), REGION_CODE_SYSTEM)?
        .ok_or_else(|| {
            let p = format!("{}.managingOrganization", node.path);
            Outcome::required(
                &p,
                format!(
                    "机构地点须有 managingOrganization；行政区划须有区划代码（identifier.system = {REGION_CODE_SYSTEM}）"
                ),
                format!(
                    "an institution site needs managingOrganization; a region needs its code (identifier.system = {REGION_CODE_SYSTEM})"
                ),
            )
        })?;
    let code = RegionCode::parse(&code).map_err(|e| Outcome::from_explain(&e, &code_path))?;
    paths.set("code", &code_path);
    if let Some(a) = &region_in_address
        && a != &code
    {
        let p = paths.get("region_code").to_string();
        return Err(Outcome::new(
            crate::outcome::IssueType::Invariant,
            "region_code_mismatch",
            &p,
            format!("地址中的区划代码 {a} 与标识符 {code} 不一致"),
            format!("the address region code {a} differs from the identifier {code}"),
        ));
    }
    let name_node = node.req("name")?;
    let name = bounded_text(&name_node, 100)?;
    paths.set("name", &name_node.path);
    let parent_code = code.parent();
    if let Some(part) = node.field("partOf") {
        check_part_of(&part, parent_code.as_ref(), "parent_code")?;
    }
    Ok(LocationIn::Region(RegionIn {
        id,
        level: code.level(),
        code,
        parent_code,
        name,
        position,
        paths,
    }))
}

/// `partOf` must be the region Location `expected` names.
fn check_part_of(
    part: &Node<'_>,
    expected: Option<&RegionCode>,
    field: &str,
) -> Result<(), Outcome> {
    let r = read_ref(part, &["Location"])?;
    let ok = match (&r, expected) {
        (Ref::Stored { id, .. }, Some(e)) => *id == region_location_id(e.as_str()),
        (Ref::Stored { .. }, None) => false,
        (Ref::Placeholder(_), _) => true,
    };
    if ok {
        return Ok(());
    }
    let want = expected.map_or_else(
        || "（无，省级区划没有上级）".to_string(),
        |e| format!("Location/{}", region_location_id(e.as_str())),
    );
    let p = format!("{}.reference", part.path);
    Err(Outcome::new(
        crate::outcome::IssueType::Invariant,
        if field == "parent_code" {
            "parent_region_mismatch"
        } else {
            "region_code_mismatch"
        },
        &p,
        format!("partOf 应为 {want}，实际为 {}", r.as_reference()),
        format!(
            "partOf must be {}, got {}",
            expected.map_or_else(
                || "absent (a province has no parent)".to_string(),
                |e| format!("Location/{}", region_location_id(e.as_str()))
            ),
            r.as_reference()
        ),
    ))
}

fn read_position(node: &Node<'_>, paths: &mut FieldPaths) -> Result<Option<Position>, Outcome> {
    let Some(p) = node.field("position") else {
        return Ok(None);
    };
    p.object()?;
    let num = |name: &str| -> Result<f64, Outcome> {
        let n = p.req(name)?;
        n.value
            .as_f64()
            .ok_or_else(|| Outcome::structure(&n.path, "应为数字", "must be a number"))
    };
    let lon = num("longitude")?;
    let lat = num("latitude")?;
    paths.set("location", &p.path);
    Position::parse(lon, lat)
        .map(Some)
        .map_err(|e| Outcome::from_explain(&e, &p.path))
}

/// (`address.text`, region code of the extension).
fn read_address(
    node: &Node<'_>,
    paths: &mut FieldPaths,
) -> Result<(String, Option<RegionCode>), Outcome> {
    let Some(a) = node.field("address") else {
        return Ok((String::new(), None));
    };
    a.object()?;
    let mut text = String::new();
    if let Some(t) = a.field("text") {
        text = bounded_text(&t, 200)?;
        paths.set("address", &t.path);
    }
    let mut region = None;
    if let Some(exts) = a.field("extension") {
        for x in exts.array()? {
            if x.req("url")?.string()? == REGION_CODE_EXTENSION {
                let v = x.req("valueCode")?;
                region = Some(
                    RegionCode::parse(v.string()?)
                        .map_err(|e| Outcome::from_explain(&e, &v.path))?,
                );
                paths.set("region_code", &v.path);
            }
        }
    }
    Ok((text, region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_ids_name_sites_and_regions() {
        assert_eq!(parse_location_id("12"), Some(LocationId::Site(12)));
        assert_eq!(
            parse_location_id("region-140521101"),
            Some(LocationId::Region("140521101".into()))
        );
        assert_eq!(parse_location_id("region-99"), None);
        assert_eq!(parse_location_id("x"), None);
    }
}

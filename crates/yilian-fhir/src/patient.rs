//! `Patient` ↔ yilian resident (居民).
//!
//! To FHIR from [`ResidentFhir`], a mirror of the store's `ResidentRow`
//! fields. The values are emitted as given: **masking** (身份证号/电话 in
//! lists, per role) is the server's job — it passes masked strings in, and a
//! masked identity number must then not be labelled with
//! [`ID_NUMBER_SYSTEM`] (the server drops it or uses [`ResidentFhir::id_number`] = `None`).
//!
//! From FHIR into `yilian_domain::resident::ResidentInput`, validated with
//! the domain's rules, every refusal naming the element path:
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `identifier` (system [`ID_NUMBER_SYSTEM`]) | `id_number` (GB 11643 rules) |
//! | `identifier` (system [`HEALTH_CARD_SYSTEM`]) | health card id (checked, not input) |
//! | `name[0].text`, else `family`+`given` joined without space | `name` |
//! | `gender` `male`/`female` (`unknown` = not given) | `sex` |
//! | `birthDate` (full date; must agree with the identity number) | `birth_date` |
//! | `telecom[system=phone][0].value` | `phone` |
//! | `address[0].text` | `address` |
//! | `address[0].extension[`[`REGION_CODE_EXTENSION`]`].valueCode` | `region_code` |

use chrono::NaiveDate;
use serde_json::{Value, json};
use yilian_domain::id_number::IdNumberError;
use yilian_domain::resident::{ResidentError, ResidentInput, ValidResident};

use crate::identifiers::{
    HEALTH_CARD_SYSTEM, ID_NUMBER_SYSTEM, REGION_CODE_EXTENSION, identifier, patient_identifiers,
};
use crate::json::{Node, parse_date};
use crate::outcome::{IssueType, Outcome};

/// The resident fields the FHIR Patient carries (mirrors `ResidentRow`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResidentFhir {
    pub id: i64,
    /// `None` when the caller may not see it (the server masks, not this crate).
    pub id_number: Option<String>,
    pub health_card_id: Option<String>,
    pub name: String,
    /// `male` / `female`.
    pub sex: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    pub phone: Option<String>,
    pub region_code: String,
    pub address: String,
    /// The row version, emitted as `meta.versionId` (and the server's ETag `W/"n"`).
    pub version: Option<i64>,
    /// `updated_at` as a FHIR instant, emitted as `meta.lastUpdated`.
    pub last_updated: Option<String>,
}

/// The resident as a FHIR `Patient`.
pub fn to_fhir(r: &ResidentFhir) -> Value {
    let mut p = json!({
        "resourceType": "Patient",
        "id": r.id.to_string(),
    });
    let mut meta = serde_json::Map::new();
    if let Some(v) = r.version {
        meta.insert("versionId".into(), json!(v.to_string()));
    }
    if let Some(t) = &r.last_updated {
        meta.insert("lastUpdated".into(), json!(t));
    }
    if !meta.is_empty() {
        p["meta"] = Value::Object(meta);
    }
    let mut ids = Vec::new();
    if let Some(n) = &r.id_number {
        ids.push(identifier(ID_NUMBER_SYSTEM, n));
    }
    if let Some(c) = &r.health_card_id {
        ids.push(identifier(HEALTH_CARD_SYSTEM, c));
    }
    if !ids.is_empty() {
        p["identifier"] = json!(ids);
    }
    p["name"] = json!([{ "use": "official", "text": r.name }]);
    if let Some(ph) = &r.phone {
        p["telecom"] = json!([{ "system": "phone", "value": ph, "use": "mobile" }]);
    }
    if matches!(r.sex.as_str(), "male" | "female") {
        p["gender"] = json!(r.sex);
    }
    if !r.birth_date.is_empty() {
        p["birthDate"] = json!(r.birth_date);
    }
    let mut addr = json!({
        "use": "home",
        "extension": [{ "url": REGION_CODE_EXTENSION, "valueCode": r.region_code }],
        "country": "CN",
    });
    if !r.address.is_empty() {
        addr["text"] = json!(r.address);
    }
    p["address"] = json!([addr]);
    p
}

/// R4 Patient elements (the equivalent of `deny_unknown_fields`). Elements
/// yilian does not map (contact, photo, …) are accepted and ignored.
const PATIENT_ELEMENTS: &[&str] = &[
    "active",
    "name",
    "telecom",
    "gender",
    "birthDate",
    "deceasedBoolean",
    "deceasedDateTime",
    "address",
    "maritalStatus",
    "multipleBirthBoolean",
    "multipleBirthInteger",
    "photo",
    "contact",
    "communication",
    "generalPractitioner",
    "managingOrganization",
    "link",
];

/// A Patient read from FHIR: the registration input, already validated.
#[derive(Debug, Clone)]
pub struct PatientIn {
    /// `Patient.id`, if given (update; must match the URL — the server checks).
    pub id: Option<String>,
    /// The input as the API would receive it.
    pub input: ResidentInput,
    /// The same input after every domain rule passed.
    pub valid: ValidResident,
    /// A health card id sent along (checked; the platform issues its own).
    pub health_card_id: Option<String>,
}

/// Reads a standalone `Patient` (paths start with `Patient`).
pub fn from_fhir(v: &Value, today: NaiveDate) -> Result<PatientIn, Outcome> {
    from_fhir_at(&Node::new(v, "Patient"), today)
}

/// Reads a `Patient` at `node` (e.g. `Bundle.entry[0].resource`).
pub fn from_fhir_at(node: &Node<'_>, today: NaiveDate) -> Result<PatientIn, Outcome> {
    node.resource_type("Patient")?;
    node.known_resource_elements(PATIENT_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);

    let ids = patient_identifiers(node.field("identifier"), today)?;
    let Some((id_number, id_index)) = ids.id_number else {
        let p = format!("{}.identifier", node.path);
        return Err(Outcome::required(
            &p,
            format!("缺少身份证号码（identifier.system = {ID_NUMBER_SYSTEM}）"),
            format!("an identity number is required (identifier.system = {ID_NUMBER_SYSTEM})"),
        ));
    };
    let id_path = format!("{}.identifier[{id_index}].value", node.path);

    let (name, name_path) = read_name(node)?;

    let mut sex = None;
    let gender_path = format!("{}.gender", node.path);
    if let Some(g) = node.field("gender") {
        match g.string()? {
            "male" => sex = Some("male".to_string()),
            "female" => sex = Some("female".to_string()),
            "unknown" => {}
            "other" => {
                return Err(Outcome::value(
                    &g.path,
                    "性别须为 male 或 female（由身份证号码确定）",
                    "gender must be male or female (the identity number encodes it)",
                ));
            }
            s => {
                return Err(Outcome::value(
                    &g.path,
                    format!("{s} 不是 FHIR 性别代码（male、female、other、unknown）"),
                    format!(
                        "{s} is not a FHIR administrative gender (male, female, other, unknown)"
                    ),
                ));
            }
        }
    }

    let birth_path = format!("{}.birthDate", node.path);
    let mut birth_date = None;
    if let Some(b) = node.field("birthDate") {
        let s = b.string()?;
        match parse_date(s) {
            Some(d) => birth_date = Some(d.to_string()),
            // FHIR allows YYYY and YYYY-MM; they must still agree.
            None if is_partial_date(s) => {
                let full = id_number.birth_date().to_string();
                if !full.starts_with(s) {
                    let e = IdNumberError::Disagrees {
                        field: "birth_date",
                        given: s.to_string(),
                        derived: full,
                    };
                    return Err(Outcome::from_explain(&e, &b.path));
                }
            }
            None => {
                b.date()?;
            }
        }
    }

    let mut phone = String::new();
    let mut phone_path = format!("{}.telecom", node.path);
    if let Some(t) = node.field("telecom") {
        for cp in t.array()? {
            cp.object()?;
            if cp.opt_str("system")? == Some("phone") {
                let v = cp.req("value")?;
                phone = v.string()?.to_string();
                phone_path = v.path.clone();
                break;
            }
        }
    }

    let (mut region_code, mut address) = (String::new(), None);
    let mut region_path = format!("{}.address", node.path);
    let mut address_path = region_path.clone();
    if let Some(a) = node.field("address") {
        let first = a.array()?.remove(0);
        first.object()?;
        if let Some(t) = first.field("text") {
            address = Some(t.string()?.to_string());
            address_path = t.path.clone();
        }
        if let Some(exts) = first.field("extension") {
            for ext in exts.array()? {
                if ext.req("url")?.string()? == REGION_CODE_EXTENSION {
                    let v = ext.req("valueCode")?;
                    region_code = v.string()?.to_string();
                    region_path = v.path.clone();
                }
            }
        }
    }
    if region_code.is_empty() {
        return Err(Outcome::required(
            &region_path,
            format!("缺少行政区划代码（address.extension {REGION_CODE_EXTENSION}）"),
            format!("a region code is required (address.extension {REGION_CODE_EXTENSION})"),
        ));
    }

    let input = ResidentInput {
        id_number: id_number.as_str().to_string(),
        name,
        phone,
        sex,
        birth_date,
        region_code,
        address,
        ..Default::default()
    };
    let valid = input.validate(today).map_err(|e| {
        let path = match &e {
            ResidentError::IdNumber(IdNumberError::Disagrees { field, .. }) => {
                if *field == "sex" {
                    &gender_path
                } else {
                    &birth_path
                }
            }
            ResidentError::IdNumber(_) => &id_path,
            ResidentError::Region(_) => &region_path,
            ResidentError::Field(f) => match f.field {
                "name" => &name_path,
                "phone" => &phone_path,
                "address" => &address_path,
                "region_code" => &region_path,
                _ => &node.path,
            },
        };
        Outcome::from_explain(&e, path)
    })?;
    Ok(PatientIn {
        id,
        input,
        valid,
        health_card_id: ids.health_card.map(|(c, _)| c.as_str().to_string()),
    })
}

fn is_partial_date(s: &str) -> bool {
    let year = |y: &str| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('-') {
        None => year(s),
        Some((y, m)) => {
            year(y) && m.len() == 2 && m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        }
    }
}

/// The person's name: the `official` name if any, else the first; its `text`,
/// else `family` + `given` (Chinese order, no space).
pub(crate) fn read_name(node: &Node<'_>) -> Result<(String, String), Outcome> {
    let missing = || {
        let p = format!("{}.name", node.path);
        Outcome::required(&p, "缺少姓名", "a name is required")
    };
    let names = node.field("name").ok_or_else(missing)?.array()?;
    let mut chosen = None;
    for n in &names {
        n.object()?;
        if n.opt_str("use")? == Some("official") {
            chosen = Some(n.clone());
            break;
        }
    }
    let n = chosen.unwrap_or_else(|| names[0].clone());
    if let Some(t) = n.field("text") {
        return Ok((t.string()?.trim().to_string(), t.path.clone()));
    }
    let mut s = n.opt_str("family")?.unwrap_or("").trim().to_string();
    if let Some(given) = n.field("given") {
        for g in given.array()? {
            s.push_str(g.string()?.trim());
        }
    }
    if s.is_empty() {
        let p = format!("{}.text", n.path);
        return Err(Outcome::new(
            IssueType::Required,
            "invalid_fhir",
            &p,
            "姓名须有 text 或 family/given",
            "a name needs text or family/given",
        ));
    }
    Ok((s, n.path.clone()))
}

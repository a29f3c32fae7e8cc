//! `Practitioner` and `PractitionerRole` ↔ yilian practitioner (医务人员) and
//! their practice sites (执业机构, 多点执业).
//!
//! A practitioner is one `Practitioner`; each practice site is one
//! `PractitionerRole` (id `{practitioner id}-{institution id}`, see
//! [`role_id`]) linking the Practitioner to the institution's Organization
//! and to its site `Location` (same id as the institution, see
//! [`crate::location`]). The first site of yilian's list is the main site,
//! flagged with [`MAIN_SITE_EXTENSION`].
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `Practitioner.identifier` (system [`PRACTITIONER_CODE_SYSTEM`]) | `code` |
//! | `Practitioner.name[0].text` (else `family`+`given`) | `name` |
//! | `Practitioner.gender` `male`/`female` | `sex` |
//! | `Practitioner.telecom[system=phone].value` | `phone` |
//! | `Practitioner.qualification[].code` in [`PROFESSION_SYSTEM`] (exactly one) | `profession` (执业类别) |
//! | `Practitioner.qualification[].code` in [`PRACTICE_SCOPE_SYSTEM`] `gp` | `is_gp` (全科) |
//! | `Practitioner.qualification[].code` in [`PRACTICE_SCOPE_SYSTEM`] `tcm` | `is_tcm` (中医类别) |
//! | `Practitioner.qualification[].code` in [`PRACTICE_SCOPE_SYSTEM`] `specialty`, its `text` | `specialty` (执业范围/专科) |
//! | `PractitionerRole.practitioner` | the practitioner |
//! | `PractitionerRole.organization` | the practice site (institution) |
//! | `PractitionerRole.location` | the site's `Location/{institution id}` |
//! | `PractitionerRole.code` | HL7 `practitioner-role` (doctor/nurse/pharmacist) + the profession |
//! | `PractitionerRole.specialty[0].text` | `specialty` |
//! | `PractitionerRole.extension[`[`MAIN_SITE_EXTENSION`]`].valueBoolean` | main site (first of `site_ids`) |
//!
//! yilian registers a practitioner together with 1 to 5 sites; a FHIR
//! client creates the `Practitioner` and its `PractitionerRole`s in one
//! transaction bundle (roles reference the Practitioner's `urn:uuid`), or
//! adds a `PractitionerRole` to a stored Practitioner.
//!
//! The crate-internal helpers at the end (`coding_of`, `required_coding`,
//! `extension_of`, …) and [`FieldPaths`] are shared by the registry and care
//! mappers ([`crate::location`], [`crate::care`], [`crate::consent`],
//! [`crate::coverage`]).

use serde_json::{Value, json};
use yilian_domain::Explain;
use yilian_domain::id_number::Sex;
use yilian_domain::name::PersonName;
use yilian_domain::phone::Phone;
use yilian_domain::registry::Profession;

use crate::identifiers::{PRACTITIONER_CODE_SYSTEM, identifier, identifier_value};
use crate::json::Node;
use crate::outcome::Outcome;
use crate::reference::{Ref, read_ref};

/// yilian's professions (执业类别, `Profession::as_str`), as `qualification.code`
/// and `PractitionerRole.code`.
pub const PROFESSION_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/profession";
/// yilian's practice scopes as qualifications: `gp` (全科医学), `tcm`
/// (中医类别) and `specialty` (执业范围/专科, the value in `code.text`).
pub const PRACTICE_SCOPE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/practice-scope";
/// HL7 practitioner role codes (doctor, nurse, pharmacist, …).
pub const HL7_PRACTITIONER_ROLE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/practitioner-role";
/// Extension on `PractitionerRole`: `valueBoolean` true on the main practice
/// site (主执业机构), the first of yilian's site list.
pub const MAIN_SITE_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/main-practice-site";

/// A practice site as the Practitioner mirror carries it (`InstitutionBrief`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeSite {
    pub institution_id: i64,
    pub code: String,
    pub name: String,
}

/// The practitioner fields FHIR carries (mirrors the store's `Practitioner`:
/// `PractitionerRow` with its `sites`, main site first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerFhir {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `male` / `female`.
    pub sex: String,
    pub profession: Profession,
    pub specialty: Option<String>,
    pub is_gp: bool,
    pub is_tcm: bool,
    /// As the caller may see it (the server masks); empty = none.
    pub phone: String,
    /// Main site first.
    pub sites: Vec<PracticeSite>,
    pub version: Option<i64>,
    /// `updated_at` as a FHIR instant.
    pub last_updated: Option<String>,
}

/// One practice site as a `PractitionerRole`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerRoleFhir {
    pub practitioner_id: i64,
    pub practitioner_name: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub profession: Profession,
    pub specialty: Option<String>,
    pub main: bool,
}

impl PractitionerFhir {
    /// The practice sites as roles, main site first.
    pub fn roles(&self) -> Vec<PractitionerRoleFhir> {
        self.sites
            .iter()
            .enumerate()
            .map(|(i, s)| PractitionerRoleFhir {
                practitioner_id: self.id,
                practitioner_name: self.name.clone(),
                institution_id: s.institution_id,
                institution_name: s.name.clone(),
                profession: self.profession,
                specialty: self.specialty.clone(),
                main: i == 0,
            })
            .collect()
    }
}

/// The `PractitionerRole` id of a practice site: `{practitioner}-{institution}`.
pub fn role_id(practitioner_id: i64, institution_id: i64) -> String {
    format!("{practitioner_id}-{institution_id}")
}

/// (practitioner id, institution id) of a `PractitionerRole` id.
pub fn parse_role_id(id: &str) -> Option<(i64, i64)> {
    let (p, i) = id.split_once('-')?;
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    Some((num(p)?, num(i)?))
}

/// HL7 `practitioner-role` code of a profession, if one fits.
pub fn hl7_role(p: Profession) -> Option<(&'static str, &'static str)> {
    match p {
        Profession::LicensedPhysician
        | Profession::AssistantPhysician
        | Profession::VillageDoctor
        | Profession::PublicHealthPhysician => Some(("doctor", "Doctor")),
        Profession::RegisteredNurse => Some(("nurse", "Nurse")),
        Profession::Pharmacist => Some(("pharmacist", "Pharmacist")),
        Profession::Technician => None,
    }
}

fn scope_label(code: &str) -> &'static str {
    match code {
        "gp" => "全科医学",
        "tcm" => "中医类别",
        _ => "执业范围（专科）",
    }
}

/// The practitioner as a FHIR `Practitioner`.
pub fn to_fhir(p: &PractitionerFhir) -> Value {
    let mut r = json!({
        "resourceType": "Practitioner",
        "id": p.id.to_string(),
    });
    let mut meta = serde_json::Map::new();
    if let Some(v) = p.version {
        meta.insert("versionId".into(), json!(v.to_string()));
    }
    if let Some(t) = &p.last_updated {
        meta.insert("lastUpdated".into(), json!(t));
    }
    if !meta.is_empty() {
        r["meta"] = Value::Object(meta);
    }
    r["identifier"] = json!([identifier(PRACTITIONER_CODE_SYSTEM, &p.code)]);
    r["active"] = json!(true);
    r["name"] = json!([{ "use": "official", "text": p.name }]);
    if !p.phone.is_empty() {
        r["telecom"] = json!([{ "system": "phone", "value": p.phone, "use": "work" }]);
    }
    if matches!(p.sex.as_str(), "male" | "female") {
        r["gender"] = json!(p.sex);
    }
    let mut quals = vec![json!({ "code": {
        "coding": [{ "system": PROFESSION_SYSTEM, "code": p.profession.as_str(), "display": p.profession.label_zh() }],
        "text": p.profession.label_zh(),
    }})];
    let scope = |code: &str| json!({ "system": PRACTICE_SCOPE_SYSTEM, "code": code, "display": scope_label(code) });
    if p.is_gp {
        quals.push(json!({ "code": { "coding": [scope("gp")], "text": scope_label("gp") } }));
    }
    if p.is_tcm {
        quals.push(json!({ "code": { "coding": [scope("tcm")], "text": scope_label("tcm") } }));
    }
    if let Some(s) = p.specialty.as_deref().filter(|s| !s.trim().is_empty()) {
        quals.push(json!({ "code": { "coding": [scope("specialty")], "text": s } }));
    }
    r["qualification"] = json!(quals);
    r
}

/// A practice site as a FHIR `PractitionerRole`.
pub fn role_to_fhir(r: &PractitionerRoleFhir) -> Value {
    let mut coding = Vec::new();
    if let Some((code, display)) = hl7_role(r.profession) {
        coding.push(
            json!({ "system": HL7_PRACTITIONER_ROLE_SYSTEM, "code": code, "display": display }),
        );
    }
    coding.push(json!({
        "system": PROFESSION_SYSTEM,
        "code": r.profession.as_str(),
        "display": r.profession.label_zh(),
    }));
    let mut v = json!({
        "resourceType": "PractitionerRole",
        "id": role_id(r.practitioner_id, r.institution_id),
        "extension": [{ "url": MAIN_SITE_EXTENSION, "valueBoolean": r.main }],
        "active": true,
        "practitioner": { "reference": format!("Practitioner/{}", r.practitioner_id), "display": r.practitioner_name },
        "organization": { "reference": format!("Organization/{}", r.institution_id), "display": r.institution_name },
        "code": [{ "coding": coding, "text": r.profession.label_zh() }],
        "location": [{ "reference": format!("Location/{}", r.institution_id), "display": r.institution_name }],
    });
    if let Some(s) = r.specialty.as_deref().filter(|s| !s.trim().is_empty()) {
        v["specialty"] = json!([{ "text": s }]);
    }
    v
}

/// R4 Practitioner elements.
const PRACTITIONER_ELEMENTS: &[&str] = &[
    "active",
    "name",
    "telecom",
    "address",
    "gender",
    "birthDate",
    "photo",
    "qualification",
    "communication",
];

/// R4 PractitionerRole elements.
const ROLE_ELEMENTS: &[&str] = &[
    "active",
    "period",
    "practitioner",
    "organization",
    "code",
    "specialty",
    "location",
    "healthcareService",
    "telecom",
    "availableTime",
    "notAvailable",
    "availabilityExceptions",
    "endpoint",
];

/// A Practitioner read from FHIR: the fields of `/api/v1`'s
/// `PractitionerInput` except the sites (those come as PractitionerRoles),
/// each already checked with the API's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerIn {
    /// `Practitioner.id`, if given (update; must match the URL — the server checks).
    pub id: Option<String>,
    /// 1–40 of letters, digits, `-`, `_`.
    pub code: String,
    /// Checked with `PersonName::parse`.
    pub name: String,
    pub sex: Sex,
    pub profession: Profession,
    /// 1–60 characters, trimmed.
    pub specialty: Option<String>,
    pub is_gp: bool,
    pub is_tcm: bool,
    /// Normalised by `Phone::parse`; empty when none was given.
    pub phone: String,
    /// Element paths of the fields, for refusals the server finds later.
    pub paths: FieldPaths,
}

/// Reads a standalone `Practitioner`.
pub fn from_fhir(v: &Value) -> Result<PractitionerIn, Outcome> {
    from_fhir_at(&Node::new(v, "Practitioner"))
}

/// Reads a `Practitioner` at `node`.
pub fn from_fhir_at(node: &Node<'_>) -> Result<PractitionerIn, Outcome> {
    node.resource_type("Practitioner")?;
    node.known_resource_elements(PRACTITIONER_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let mut paths = FieldPaths::new(&node.path);

    let (code, code_path) = identifier_value(node.field("identifier"), PRACTITIONER_CODE_SYSTEM)?
        .ok_or_else(|| {
        let p = format!("{}.identifier", node.path);
        Outcome::required(
            &p,
            format!("缺少人员编码（identifier.system = {PRACTITIONER_CODE_SYSTEM}）"),
            format!(
                "a practitioner code is required (identifier.system = {PRACTITIONER_CODE_SYSTEM})"
            ),
        )
    })?;
    check_code(&code, &code_path)?;
    paths.set("code", &code_path);

    let (name_raw, name_path) = crate::patient::read_name(node)?;
    let name = PersonName::parse(&name_raw)
        .map_err(|e| Outcome::from_explain(&e, &name_path))?
        .name;
    paths.set("name", &name_path);

    let gender = node.field("gender").ok_or_else(|| {
        let p = format!("{}.gender", node.path);
        Outcome::required(&p, "缺少性别", "gender is required")
    })?;
    let sex = match gender.string()? {
        "male" => Sex::Male,
        "female" => Sex::Female,
        s => {
            return Err(Outcome::value(
                &gender.path,
                format!("性别须为 male 或 female，实际为 {s}"),
                format!("gender must be male or female, got {s}"),
            ));
        }
    };
    paths.set("sex", &gender.path);

    let mut phone = String::new();
    if let Some(t) = node.field("telecom") {
        for cp in t.array()? {
            cp.object()?;
            if cp.opt_str("system")? == Some("phone") {
                let v = cp.req("value")?;
                phone = Phone::parse(v.string()?)
                    .map_err(|e| Outcome::from_explain(&e, &v.path))?
                    .as_str()
                    .to_string();
                paths.set("phone", &v.path);
                break;
            }
        }
    }

    let mut profession: Option<(Profession, String)> = None;
    let (mut is_gp, mut is_tcm, mut specialty) = (false, false, None);
    if let Some(quals) = node.field("qualification") {
        for q in quals.array()? {
            q.object()?;
            let code = q.req("code")?;
            if let Some((c, _, path)) = coding_of(&code, PROFESSION_SYSTEM)? {
                let p = Profession::parse_field("profession", &c)
                    .map_err(|e| Outcome::from_explain(&e, &path))?;
                if profession.is_some() {
                    return Err(Outcome::value(
                        &path,
                        "只能有一个执业类别",
                        "only one profession may be given",
                    ));
                }
                profession = Some((p, path));
            }
            if let Some((c, _, path)) = coding_of(&code, PRACTICE_SCOPE_SYSTEM)? {
                match c.as_str() {
                    "gp" => is_gp = true,
                    "tcm" => is_tcm = true,
                    "specialty" => {
                        let t = code.field("text").ok_or_else(|| {
                            let p = format!("{}.text", code.path);
                            Outcome::required(
                                &p,
                                "执业范围（专科）须写在 text 中",
                                "the specialty is given in code.text",
                            )
                        })?;
                        specialty = Some(bounded_text(&t, 60)?);
                        paths.set("specialty", &t.path);
                    }
                    other => {
                        return Err(Outcome::value(
                            &path,
                            format!("未知执业范围代码 {other}（gp、tcm、specialty）"),
                            format!("unknown practice scope {other} (gp, tcm, specialty)"),
                        ));
                    }
                }
            }
        }
    }
    let (profession, prof_path) = profession.ok_or_else(|| {
        let p = format!("{}.qualification", node.path);
        Outcome::required(
            &p,
            format!("缺少执业类别（qualification.code.coding.system = {PROFESSION_SYSTEM}）"),
            format!(
                "a profession is required (qualification.code.coding.system = {PROFESSION_SYSTEM})"
            ),
        )
    })?;
    paths.set("profession", &prof_path);
    Ok(PractitionerIn {
        id,
        code,
        name,
        sex,
        profession,
        specialty,
        is_gp,
        is_tcm,
        phone,
        paths,
    })
}

/// A PractitionerRole read from FHIR: one practice site of a practitioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerRoleIn {
    /// `PractitionerRole.id`, if given (see [`parse_role_id`]).
    pub id: Option<String>,
    /// `Practitioner/{id}` or the placeholder of a Practitioner in the same bundle.
    pub practitioner: Ref,
    /// The practice site, `Organization/{id}` or a placeholder.
    pub institution: Ref,
    /// Whether it is the main site ([`MAIN_SITE_EXTENSION`]; absent = false).
    pub main: bool,
    /// The profession named in `code`, if any (the server checks it agrees
    /// with the practitioner's).
    pub profession: Option<Profession>,
    /// `specialty[0].text`, if any (1–60 characters).
    pub specialty: Option<String>,
    pub paths: FieldPaths,
}

impl PractitionerRoleIn {
    /// Every reference.
    pub fn references(&self) -> Vec<&Ref> {
        vec![&self.practitioner, &self.institution]
    }
}

/// Reads a standalone `PractitionerRole`.
pub fn role_from_fhir(v: &Value) -> Result<PractitionerRoleIn, Outcome> {
    role_from_fhir_at(&Node::new(v, "PractitionerRole"))
}

/// Reads a `PractitionerRole` at `node`: `practitioner` and `organization`
/// are required.
pub fn role_from_fhir_at(node: &Node<'_>) -> Result<PractitionerRoleIn, Outcome> {
    node.resource_type("PractitionerRole")?;
    node.known_resource_elements(ROLE_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let mut paths = FieldPaths::new(&node.path);
    if let Some(a) = node.field("active")
        && !a.boolean()?
    {
        return Err(Outcome::not_supported(
            &a.path,
            "停用执业地点请删除该 PractitionerRole",
            "to end a practice site, delete the PractitionerRole",
        ));
    }
    let pn = node.req("practitioner")?;
    let practitioner = read_ref(&pn, &["Practitioner"])?;
    paths.set("practitioner_id", &format!("{}.reference", pn.path));
    let on = node.req("organization")?;
    let institution = read_ref(&on, &["Organization"])?;
    paths.set("sites", &format!("{}.reference", on.path));
    let mut main = false;
    if let Some(x) = extension_of(node, MAIN_SITE_EXTENSION)? {
        main = x.req("valueBoolean")?.boolean()?;
    }
    let mut profession = None;
    if let Some(codes) = node.field("code") {
        for c in codes.array()? {
            if let Some((code, _, path)) = coding_of(&c, PROFESSION_SYSTEM)? {
                profession = Some(
                    Profession::parse_field("profession", &code)
                        .map_err(|e| Outcome::from_explain(&e, &path))?,
                );
                paths.set("profession", &path);
            }
        }
    }
    let mut specialty = None;
    if let Some(s) = node.field("specialty") {
        let first = s.array()?.remove(0);
        first.object()?;
        if let Some(t) = first.field("text") {
            specialty = Some(bounded_text(&t, 60)?);
            paths.set("specialty", &t.path);
        }
    }
    Ok(PractitionerRoleIn {
        id,
        practitioner,
        institution,
        main,
        profession,
        specialty,
        paths,
    })
}

// ------------------------------------------------------------------ shared helpers

/// yilian's code rule (as `/api/v1`): 1–40 of letters, digits, `-`, `_`.
pub(crate) fn check_code(code: &str, path: &str) -> Result<(), Outcome> {
    if code.is_empty()
        || code.len() > 40
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Outcome::value(
            path,
            "编码为1至40位字母、数字、-或_",
            "a code is 1 to 40 of letters, digits, - or _",
        ));
    }
    Ok(())
}

/// A trimmed string of 1 to `max` characters at `node`.
pub(crate) fn bounded_text(node: &Node<'_>, max: usize) -> Result<String, Outcome> {
    let t = node.string()?.trim().to_string();
    if t.chars().count() > max {
        return Err(Outcome::value(
            &node.path,
            format!("不能超过{max}字"),
            format!("at most {max} characters"),
        ));
    }
    Ok(t)
}

/// The first coding of `system` in the CodeableConcept at `node`:
/// (code, display, path of `code`).
pub(crate) fn coding_of(
    node: &Node<'_>,
    system: &str,
) -> Result<Option<(String, Option<String>, String)>, Outcome> {
    node.object()?;
    let Some(codings) = node.field("coding") else {
        return Ok(None);
    };
    for c in codings.array()? {
        c.object()?;
        if c.opt_str("system")? == Some(system) {
            let code = c.req("code")?;
            return Ok(Some((
                code.string()?.trim().to_string(),
                c.opt_str("display")?.map(str::to_string),
                code.path.clone(),
            )));
        }
    }
    Ok(None)
}

/// [`coding_of`], refusing a CodeableConcept without a coding of `system`
/// (the refusal names `{node}.coding`).
pub(crate) fn required_coding(
    node: &Node<'_>,
    system: &str,
    zh: &str,
    en: &str,
) -> Result<(String, Option<String>, String), Outcome> {
    coding_of(node, system)?.ok_or_else(|| {
        let p = format!("{}.coding", node.path);
        Outcome::required(
            &p,
            format!("{zh}（system = {system}）"),
            format!("{en} (system = {system})"),
        )
    })
}

/// The first `extension` of `url` on the element at `node`.
pub(crate) fn extension_of<'a>(node: &Node<'a>, url: &str) -> Result<Option<Node<'a>>, Outcome> {
    let Some(exts) = node.field("extension") else {
        return Ok(None);
    };
    for x in exts.array()? {
        x.object()?;
        if x.req("url")?.string()? == url {
            return Ok(Some(x));
        }
    }
    Ok(None)
}

/// The FHIR element path of each `/api/v1` input field a mapper read, so
/// that the server can place a refusal it finds later (an unknown
/// institution, a cap reached) at the element: `paths.get("team_id")` →
/// `EpisodeOfCare.team[0].reference`. Unknown fields give the resource path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPaths {
    base: String,
    fields: Vec<(&'static str, String)>,
}

impl FieldPaths {
    pub fn new(base: &str) -> FieldPaths {
        FieldPaths {
            base: base.to_string(),
            fields: Vec::new(),
        }
    }

    /// The resource's path (`CareTeam`, `Bundle.entry[2].resource`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Records (or replaces) the path of `field`.
    pub fn set(&mut self, field: &'static str, path: &str) {
        match self.fields.iter_mut().find(|(f, _)| *f == field) {
            Some(e) => e.1 = path.to_string(),
            None => self.fields.push((field, path.to_string())),
        }
    }

    /// The element path of `field`, else the resource's path.
    pub fn get(&self, field: &str) -> &str {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(self.base.as_str(), |(_, p)| p.as_str())
    }

    /// An `Outcome` for a domain refusal of `field`, at its element.
    pub fn outcome(&self, field: &str, e: &dyn Explain) -> Outcome {
        Outcome::from_explain(e, self.get(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_round_trip() {
        assert_eq!(role_id(12, 7), "12-7");
        assert_eq!(parse_role_id("12-7"), Some((12, 7)));
        assert_eq!(parse_role_id("12"), None);
        assert_eq!(parse_role_id("a-7"), None);
        assert_eq!(parse_role_id("-7"), None);
    }

    #[test]
    fn field_paths_fall_back_to_the_resource() {
        let mut p = FieldPaths::new("X");
        p.set("a", "X.a");
        p.set("a", "X.b");
        assert_eq!(p.get("a"), "X.b");
        assert_eq!(p.get("z"), "X");
    }
}

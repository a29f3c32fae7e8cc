//! `CareTeam` ↔ family doctor team (家庭医生团队) and `EpisodeOfCare` ↔
//! family doctor contract (家庭医生签约).
//!
//! **CareTeam** (mirrors the store's `Team`: `TeamRow` with its members):
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `identifier` (system [`TEAM_CODE_SYSTEM`]) | `code` |
//! | `status` `active` | — |
//! | `category` LOINC `LA28865-6` (longitudinal care-coordination) + [`CARE_TEAM_KIND_SYSTEM`] `family-doctor` | — |
//! | `name` | `name` |
//! | `participant[].member` `Practitioner/{id}` | `members[].practitioner_id` |
//! | `participant[].role` in [`TEAM_ROLE_SYSTEM`] (`TeamRole`) | `members[].role` (exactly one `lead`) |
//! | `managingOrganization[0]` | `institution_id` (the township/community center) |
//! | `extension[`[`TEAM_CAPACITY_EXTENSION`]`].valueInteger` | `capacity` (1–100000) |
//!
//! **EpisodeOfCare** (mirrors `ContractRow` and its packages):
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `status` | `status`: active → `active`; renewed, transferred, expired → `finished`; cancelled → `cancelled` |
//! | `extension[`[`CONTRACT_STATUS_EXTENSION`]`].valueCoding` | `status`, exactly ([`CONTRACT_STATUS_SYSTEM`]) |
//! | `type[]` in [`SERVICE_PACKAGE_SYSTEM`] | packages (服务包 codes; `basic` is always added by the server) |
//! | `patient` | `resident_id` |
//! | `managingOrganization` | the team's institution |
//! | `period.start` / `period.end` | `start_date` / `end_date` (one year: `contract::default_end`) |
//! | `careManager` | `doctor_id` (签约医生) |
//! | `team[0]` | `team_id` |
//! | `extension[`[`SECONDARY_HOSPITAL_EXTENSION`]`]`, `[`[`TERTIARY_HOSPITAL_EXTENSION`]`]` | "1+1+1" hospitals |
//! | `extension[`[`CONTRACT_FEE_EXTENSION`]`].valueMoney` (CNY) | `fee_fen` (read-only) |
//! | `extension[`[`CANCEL_REASON_EXTENSION`]`].valueString` | `cancel_reason` (read-only) |
//! | `extension[`[`PREVIOUS_CONTRACT_EXTENSION`]`].valueReference` | `previous_id` (read-only) |
//!
//! Creating an EpisodeOfCare is signing (`sign`): [`EpisodeOfCareIn`] has
//! the fields of the server's `SignRequest` for one resident. Status
//! changes (renew, cancel with a reason, transfer) stay contract events on
//! `/api/v1`; an EpisodeOfCare with another status than `active`/`planned`
//! is refused as not supported.

use chrono::NaiveDate;
use serde_json::{Value, json};
use yilian_domain::contract::{ContractStatus, default_end};
use yilian_domain::registry::TeamRole;

use crate::identifiers::{identifier, identifier_value};
use crate::json::Node;
use crate::outcome::{IssueType, Outcome};
use crate::practitioner::{FieldPaths, bounded_text, check_code, coding_of, extension_of};
use crate::reference::{Ref, read_ref};

/// 团队编码 — yilian's family doctor team code.
pub const TEAM_CODE_SYSTEM: &str = "https://yilian.example/fhir/sid/team-code";
/// yilian's team roles (`TeamRole::as_str`), as `CareTeam.participant.role`.
pub const TEAM_ROLE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/team-role";
/// yilian's care team kinds: `family-doctor` (家庭医生团队).
pub const CARE_TEAM_KIND_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/care-team-kind";
/// Extension on `CareTeam`: the contract capacity (签约容量) as `valueInteger`.
pub const TEAM_CAPACITY_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/team-capacity";
/// yilian's service packages (服务包 codes, e.g. `basic`, `chronic`).
pub const SERVICE_PACKAGE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/service-package";
/// yilian's contract states (`ContractStatus::as_str`).
pub const CONTRACT_STATUS_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/contract-status";
/// Extension on `EpisodeOfCare`: the exact contract state as `valueCoding`
/// in [`CONTRACT_STATUS_SYSTEM`] (FHIR's status folds several into `finished`).
pub const CONTRACT_STATUS_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/contract-status";
/// Extension on `EpisodeOfCare`: the chosen secondary hospital ("1+1+1"),
/// `valueReference` to an Organization.
pub const SECONDARY_HOSPITAL_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/contract-secondary-hospital";
/// Extension on `EpisodeOfCare`: the chosen tertiary hospital ("1+1+1"),
/// `valueReference` to an Organization.
pub const TERTIARY_HOSPITAL_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/contract-tertiary-hospital";
/// Extension on `EpisodeOfCare`: the yearly fee as `valueMoney` (CNY).
pub const CONTRACT_FEE_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/contract-fee";
/// Extension on `EpisodeOfCare`: the cancellation reason as `valueString`.
pub const CANCEL_REASON_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/contract-cancel-reason";
/// Extension on `EpisodeOfCare`: the contract this one renews, as
/// `valueReference` to an EpisodeOfCare.
pub const PREVIOUS_CONTRACT_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/contract-previous";

const LOINC: &str = "http://loinc.org";

// ------------------------------------------------------------------ CareTeam

/// One team member (mirrors `TeamMember`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMemberFhir {
    pub practitioner_id: i64,
    pub name: String,
    pub role: TeamRole,
}

/// The team fields a CareTeam carries (mirrors `Team`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamFhir {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub capacity: i64,
    pub members: Vec<TeamMemberFhir>,
    pub version: Option<i64>,
}

fn versioned(r: &mut Value, version: Option<i64>) {
    if let Some(v) = version {
        r["meta"] = json!({ "versionId": v.to_string() });
    }
}

/// The team as a FHIR `CareTeam`.
pub fn team_to_fhir(t: &TeamFhir) -> Value {
    let participants: Vec<Value> = t
        .members
        .iter()
        .map(|m| {
            json!({
                "role": [{
                    "coding": [{ "system": TEAM_ROLE_SYSTEM, "code": m.role.as_str(), "display": m.role.label_zh() }],
                    "text": m.role.label_zh(),
                }],
                "member": { "reference": format!("Practitioner/{}", m.practitioner_id), "display": m.name },
            })
        })
        .collect();
    let mut r = json!({
        "resourceType": "CareTeam",
        "id": t.id.to_string(),
        "extension": [{ "url": TEAM_CAPACITY_EXTENSION, "valueInteger": t.capacity }],
        "identifier": [identifier(TEAM_CODE_SYSTEM, &t.code)],
        "status": "active",
        "category": [{
            "coding": [
                { "system": LOINC, "code": "LA28865-6", "display": "Longitudinal care-coordination focused care team" },
                { "system": CARE_TEAM_KIND_SYSTEM, "code": "family-doctor", "display": "家庭医生团队" },
            ],
            "text": "家庭医生团队",
        }],
        "name": t.name,
        "managingOrganization": [{
            "reference": format!("Organization/{}", t.institution_id),
            "display": t.institution_name,
        }],
    });
    versioned(&mut r, t.version);
    if !participants.is_empty() {
        r["participant"] = json!(participants);
    }
    r
}

/// A team member read from FHIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMemberIn {
    /// `Practitioner/{id}` or a placeholder.
    pub practitioner: Ref,
    pub role: TeamRole,
}

/// A CareTeam read from FHIR: the fields of `/api/v1`'s `TeamInput`, with
/// references in place of institution and practitioner codes. Checked here:
/// code, name (1–100), capacity (1–100000), exactly one lead, no member
/// twice. The server checks the lead is a GP physician (`check_team_lead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareTeamIn {
    pub id: Option<String>,
    pub code: String,
    pub name: String,
    /// `managingOrganization[0]`.
    pub institution: Ref,
    pub capacity: i64,
    pub members: Vec<TeamMemberIn>,
    /// Paths of `code`, `name`, `institution_code`, `capacity`, `members`
    /// (see [`CareTeamIn::member_path`] for one member).
    pub paths: FieldPaths,
}

impl CareTeamIn {
    /// Every reference.
    pub fn references(&self) -> Vec<&Ref> {
        let mut v = vec![&self.institution];
        v.extend(self.members.iter().map(|m| &m.practitioner));
        v
    }

    /// The element path of member `i`'s reference.
    pub fn member_path(&self, i: usize) -> String {
        format!("{}.participant[{i}].member.reference", self.paths.base())
    }
}

const CARE_TEAM_ELEMENTS: &[&str] = &[
    "status",
    "category",
    "name",
    "subject",
    "encounter",
    "period",
    "participant",
    "reasonCode",
    "reasonReference",
    "managingOrganization",
    "telecom",
    "note",
];

/// Reads a standalone `CareTeam`.
pub fn team_from_fhir(v: &Value) -> Result<CareTeamIn, Outcome> {
    team_from_fhir_at(&Node::new(v, "CareTeam"))
}

/// Reads a `CareTeam` at `node`.
pub fn team_from_fhir_at(node: &Node<'_>) -> Result<CareTeamIn, Outcome> {
    node.resource_type("CareTeam")?;
    node.known_resource_elements(CARE_TEAM_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let mut paths = FieldPaths::new(&node.path);
    if let Some(s) = node.field("status") {
        let st = s.string()?;
        if !matches!(st, "active" | "proposed") {
            return Err(Outcome::not_supported(
                &s.path,
                format!("只接收在岗团队（active），实际为 {st}"),
                format!("only active teams are accepted, got {st}"),
            ));
        }
    }
    let (code, code_path) = identifier_value(node.field("identifier"), TEAM_CODE_SYSTEM)?
        .ok_or_else(|| {
            let p = format!("{}.identifier", node.path);
            Outcome::required(
                &p,
                format!("缺少团队编码（identifier.system = {TEAM_CODE_SYSTEM}）"),
                format!("a team code is required (identifier.system = {TEAM_CODE_SYSTEM})"),
            )
        })?;
    check_code(&code, &code_path)?;
    paths.set("code", &code_path);
    let name_node = node.req("name")?;
    let name = bounded_text(&name_node, 100)?;
    paths.set("name", &name_node.path);

    let orgs = node.req("managingOrganization")?.array()?;
    if orgs.len() > 1 {
        return Err(Outcome::not_supported(
            &orgs[1].path,
            "团队只属于一个机构",
            "a team belongs to one institution",
        ));
    }
    let institution = read_ref(&orgs[0], &["Organization"])?;
    paths.set("institution_code", &format!("{}.reference", orgs[0].path));

    let cap = extension_of(node, TEAM_CAPACITY_EXTENSION)?.ok_or_else(|| {
        let p = format!("{}.extension", node.path);
        Outcome::required(
            &p,
            format!("缺少签约容量（extension {TEAM_CAPACITY_EXTENSION}）"),
            format!("the capacity is required (extension {TEAM_CAPACITY_EXTENSION})"),
        )
    })?;
    let cv = cap.req("valueInteger")?;
    let capacity = cv
        .value
        .as_i64()
        .ok_or_else(|| Outcome::structure(&cv.path, "应为整数", "must be an integer"))?;
    if !(1..=100_000).contains(&capacity) {
        return Err(Outcome::value(
            &cv.path,
            "签约容量应为1至100000",
            "capacity must be 1..=100000",
        ));
    }
    paths.set("capacity", &cv.path);

    let participant_path = format!("{}.participant", node.path);
    paths.set("members", &participant_path);
    let mut members: Vec<TeamMemberIn> = Vec::new();
    let mut leads = 0;
    if let Some(parts) = node.field("participant") {
        for p in parts.array()? {
            p.object()?;
            let member = p.req("member")?;
            let practitioner = read_ref(&member, &["Practitioner"])?;
            let ref_path = format!("{}.reference", member.path);
            let roles = p.field("role").ok_or_else(|| {
                let rp = format!("{}.role", p.path);
                Outcome::required(&rp, "缺少团队角色", "the member's team role is required")
            })?;
            let mut role = None;
            for r in roles.array()? {
                if let Some((c, _, cp)) = coding_of(&r, TEAM_ROLE_SYSTEM)? {
                    role = Some(
                        TeamRole::parse_field("members.role", &c)
                            .map_err(|e| Outcome::from_explain(&e, &cp))?,
                    );
                    break;
                }
            }
            let role = role.ok_or_else(|| {
                let rp = format!("{}.role", p.path);
                Outcome::required(
                    &rp,
                    format!("缺少团队角色（role.coding.system = {TEAM_ROLE_SYSTEM}）"),
                    format!("a team role is required (role.coding.system = {TEAM_ROLE_SYSTEM})"),
                )
            })?;
            if members.iter().any(|m| m.practitioner == practitioner) {
                return Err(Outcome::value(
                    &ref_path,
                    "成员重复",
                    "a member is listed twice",
                ));
            }
            if role == TeamRole::Lead {
                leads += 1;
            }
            members.push(TeamMemberIn { practitioner, role });
        }
    }
    if leads != 1 {
        return Err(Outcome::new(
            IssueType::Invariant,
            "invalid_field",
            &participant_path,
            "团队须有且仅有一名团队长（role = lead）",
            "a team has exactly one lead (role = lead)",
        ));
    }
    Ok(CareTeamIn {
        id,
        code,
        name,
        institution,
        capacity,
        members,
        paths,
    })
}

// ------------------------------------------------------------------ EpisodeOfCare

/// The contract fields an EpisodeOfCare carries (mirrors `ContractRow` and
/// `contract_packages`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractFhir {
    pub id: i64,
    pub resident_id: i64,
    pub team_id: i64,
    pub team_name: String,
    pub doctor_id: i64,
    pub doctor_name: String,
    /// The team's institution (`TeamRow::institution_id`), if the server loaded it.
    pub institution_id: Option<i64>,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `YYYY-MM-DD`.
    pub end_date: String,
    pub status: ContractStatus,
    /// Package codes.
    pub packages: Vec<String>,
    pub secondary_hospital_id: Option<i64>,
    pub tertiary_hospital_id: Option<i64>,
    pub fee_fen: i64,
    pub cancel_reason: Option<String>,
    pub previous_id: Option<i64>,
    pub version: Option<i64>,
}

/// `EpisodeOfCare.status` for a contract state.
pub fn episode_status(s: ContractStatus) -> &'static str {
    match s {
        ContractStatus::Active => "active",
        ContractStatus::Renewed | ContractStatus::Transferred | ContractStatus::Expired => {
            "finished"
        }
        ContractStatus::Cancelled => "cancelled",
    }
}

/// The contract as a FHIR `EpisodeOfCare`.
pub fn contract_to_fhir(c: &ContractFhir) -> Value {
    let mut ext = vec![json!({
        "url": CONTRACT_STATUS_EXTENSION,
        "valueCoding": { "system": CONTRACT_STATUS_SYSTEM, "code": c.status.as_str(), "display": c.status.label_zh() },
    })];
    if let Some(h) = c.secondary_hospital_id {
        ext.push(json!({ "url": SECONDARY_HOSPITAL_EXTENSION, "valueReference": { "reference": format!("Organization/{h}") } }));
    }
    if let Some(h) = c.tertiary_hospital_id {
        ext.push(json!({ "url": TERTIARY_HOSPITAL_EXTENSION, "valueReference": { "reference": format!("Organization/{h}") } }));
    }
    ext.push(json!({
        "url": CONTRACT_FEE_EXTENSION,
        "valueMoney": { "value": c.fee_fen as f64 / 100.0, "currency": "CNY" },
    }));
    if let Some(r) = c.cancel_reason.as_deref().filter(|r| !r.trim().is_empty()) {
        ext.push(json!({ "url": CANCEL_REASON_EXTENSION, "valueString": r }));
    }
    if let Some(p) = c.previous_id {
        ext.push(json!({ "url": PREVIOUS_CONTRACT_EXTENSION, "valueReference": { "reference": format!("EpisodeOfCare/{p}") } }));
    }
    let mut r = json!({
        "resourceType": "EpisodeOfCare",
        "id": c.id.to_string(),
        "extension": ext,
        "status": episode_status(c.status),
        "patient": { "reference": format!("Patient/{}", c.resident_id) },
        "period": { "start": c.start_date, "end": c.end_date },
        "careManager": { "reference": format!("Practitioner/{}", c.doctor_id), "display": c.doctor_name },
        "team": [{ "reference": format!("CareTeam/{}", c.team_id), "display": c.team_name }],
    });
    versioned(&mut r, c.version);
    if !c.packages.is_empty() {
        r["type"] = json!(
            c.packages
                .iter()
                .map(|p| json!({ "coding": [{ "system": SERVICE_PACKAGE_SYSTEM, "code": p }] }))
                .collect::<Vec<_>>()
        );
    }
    if let Some(i) = c.institution_id {
        r["managingOrganization"] = json!({ "reference": format!("Organization/{i}") });
    }
    r
}

/// An EpisodeOfCare read from FHIR: the server's `SignRequest` for one
/// resident, with references in place of ids and hospital codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeOfCareIn {
    pub id: Option<String>,
    /// `patient` → `resident_id`.
    pub patient: Ref,
    /// `team[0]` (CareTeam) → `team_id`.
    pub team: Ref,
    /// `careManager` (Practitioner) → `doctor_id`; `None` = the team lead.
    pub doctor: Option<Ref>,
    /// `managingOrganization`, if given: the server checks it is the team's
    /// institution.
    pub managing_organization: Option<Ref>,
    /// Package codes from `type` (the server adds `basic` and checks they are in force).
    pub packages: Vec<String>,
    /// `period.start` (China Standard Time date); `None` = today.
    pub start_date: Option<NaiveDate>,
    /// → `secondary_hospital_code` (the server looks the code up).
    pub secondary_hospital: Option<Ref>,
    /// → `tertiary_hospital_code`.
    pub tertiary_hospital: Option<Ref>,
    /// Paths of `resident_id`, `team_id`, `doctor_id`, `packages`,
    /// `start_date`, `secondary_hospital_code`, `tertiary_hospital_code`.
    pub paths: FieldPaths,
}

impl EpisodeOfCareIn {
    /// Every reference.
    pub fn references(&self) -> Vec<&Ref> {
        let mut v = vec![&self.patient, &self.team];
        v.extend(self.doctor.iter());
        v.extend(self.managing_organization.iter());
        v.extend(self.secondary_hospital.iter());
        v.extend(self.tertiary_hospital.iter());
        v
    }
}

const EPISODE_ELEMENTS: &[&str] = &[
    "status",
    "statusHistory",
    "type",
    "diagnosis",
    "patient",
    "managingOrganization",
    "period",
    "referralRequest",
    "careManager",
    "team",
    "account",
];

/// Reads a standalone `EpisodeOfCare` (`today` gives the default start).
pub fn contract_from_fhir(v: &Value, today: NaiveDate) -> Result<EpisodeOfCareIn, Outcome> {
    contract_from_fhir_at(&Node::new(v, "EpisodeOfCare"), today)
}

/// A `date` or `dateTime` as a China Standard Time date.
fn cst_date(n: &Node<'_>) -> Result<NaiveDate, Outcome> {
    Ok(n.date_time_cst()?.date())
}

/// Reads an `EpisodeOfCare` at `node`: a new contract (status `active` or
/// `planned`), `patient` and one `team` required; `period.end`, if given,
/// must be the end of the one-year period.
pub fn contract_from_fhir_at(
    node: &Node<'_>,
    today: NaiveDate,
) -> Result<EpisodeOfCareIn, Outcome> {
    node.resource_type("EpisodeOfCare")?;
    node.known_resource_elements(EPISODE_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let mut paths = FieldPaths::new(&node.path);
    let status = node.req("status")?;
    match status.string()? {
        "active" | "planned" => {}
        s @ ("waitlist" | "onhold" | "finished" | "cancelled" | "entered-in-error") => {
            return Err(Outcome::not_supported(
                &status.path,
                format!("签约只能以 active 新建；续约、解约、转签请用签约事件（实际为 {s}）"),
                format!(
                    "a contract is created active; renew, cancel and transfer are contract events (got {s})"
                ),
            ));
        }
        s => {
            return Err(Outcome::value(
                &status.path,
                format!("{s} 不是 EpisodeOfCare 状态代码"),
                format!("{s} is not an EpisodeOfCare status"),
            ));
        }
    }
    let pn = node.req("patient")?;
    let patient = read_ref(&pn, &["Patient"])?;
    paths.set("resident_id", &format!("{}.reference", pn.path));

    let teams = node
        .field("team")
        .ok_or_else(|| {
            let p = format!("{}.team", node.path);
            Outcome::required(
                &p,
                "缺少签约团队（team）",
                "the family doctor team is required (team)",
            )
        })?
        .array()?;
    if teams.len() > 1 {
        return Err(Outcome::not_supported(
            &teams[1].path,
            "一份签约只对应一个家庭医生团队",
            "a contract is with one team",
        ));
    }
    let team = read_ref(&teams[0], &["CareTeam"])?;
    paths.set("team_id", &format!("{}.reference", teams[0].path));

    let doctor = match node.field("careManager") {
        Some(cm) => {
            paths.set("doctor_id", &format!("{}.reference", cm.path));
            Some(read_ref(&cm, &["Practitioner"])?)
        }
        None => None,
    };
    let managing_organization = match node.field("managingOrganization") {
        Some(o) => Some(read_ref(&o, &["Organization"])?),
        None => None,
    };

    let mut packages: Vec<String> = Vec::new();
    if let Some(types) = node.field("type") {
        paths.set("packages", &types.path);
        for t in types.array()? {
            if let Some((c, _, cp)) = coding_of(&t, SERVICE_PACKAGE_SYSTEM)? {
                check_code(&c, &cp)?;
                if !packages.contains(&c) {
                    packages.push(c);
                }
            }
        }
    }

    let mut start_date = None;
    if let Some(period) = node.field("period") {
        period.object()?;
        if let Some(s) = period.field("start") {
            start_date = Some(cst_date(&s)?);
            paths.set("start_date", &s.path);
        }
        if let Some(e) = period.field("end") {
            let end = cst_date(&e)?;
            let start = start_date.unwrap_or(today);
            let expected = default_end(start);
            if end != expected {
                return Err(Outcome::new(
                    IssueType::Invariant,
                    "invalid_field",
                    &e.path,
                    format!("签约周期为一年：自 {start} 起应止于 {expected}，实际为 {end}"),
                    format!(
                        "a contract runs one year: from {start} it ends on {expected}, got {end}"
                    ),
                ));
            }
        }
    }

    let hospital =
        |url: &str, field: &'static str, paths: &mut FieldPaths| -> Result<Option<Ref>, Outcome> {
            let Some(x) = extension_of(node, url)? else {
                return Ok(None);
            };
            let v = x.req("valueReference")?;
            paths.set(field, &format!("{}.reference", v.path));
            Ok(Some(read_ref(&v, &["Organization"])?))
        };
    let secondary_hospital = hospital(
        SECONDARY_HOSPITAL_EXTENSION,
        "secondary_hospital_code",
        &mut paths,
    )?;
    let tertiary_hospital = hospital(
        TERTIARY_HOSPITAL_EXTENSION,
        "tertiary_hospital_code",
        &mut paths,
    )?;
    // The exact status, if sent, must agree with `status`.
    if let Some(x) = extension_of(node, CONTRACT_STATUS_EXTENSION)? {
        let v = x.req("valueCoding")?;
        let c = v.req("code")?;
        let s = ContractStatus::parse_field("status", c.string()?)
            .map_err(|e| Outcome::from_explain(&e, &c.path))?;
        if s != ContractStatus::Active {
            return Err(Outcome::new(
                IssueType::Invariant,
                "invalid_field",
                &c.path,
                format!("新签约的状态应为 active，实际为 {}", s.as_str()),
                format!("a new contract is active, got {}", s.as_str()),
            ));
        }
    }
    Ok(EpisodeOfCareIn {
        id,
        patient,
        team,
        doctor,
        managing_organization,
        packages,
        start_date,
        secondary_hospital,
        tertiary_hospital,
        paths,
    })
}

// ------------------------------------------------------------------ contract events

/// A contract event read from an updated `EpisodeOfCare` (签约变更): the
/// yilian state the client asks for, as the event that leads there. Whether
/// the step is allowed is the domain's state machine (`contract::transition`),
/// which the server runs.
///
/// | asked state (the [`CONTRACT_STATUS_EXTENSION`] code, else `status`) | event |
/// |---|---|
/// | `active` (unchanged) | none |
/// | `renewed` | `renew` |
/// | `cancelled` (`status` `cancelled`) | `cancel` — the reason in [`CANCEL_REASON_EXTENSION`] |
/// | `transferred` | `transfer` — the new team in `team[0]`, doctor in `careManager` |
/// | `expired` | `expire` |
///
/// `status` `finished` alone is ambiguous (renewed, transferred, expired)
/// and needs the extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeChangeIn {
    pub id: Option<String>,
    /// The asked state.
    pub target: ContractStatus,
    /// `renew`, `cancel`, `transfer`, `expire`; `None` when the state is
    /// unchanged from `current`.
    pub event: Option<&'static str>,
    pub reason: Option<String>,
    /// `team[0]` and `careManager` as sent (a transfer's new team and doctor).
    pub team: Option<Ref>,
    pub doctor: Option<Ref>,
    /// Where the state was read (for refusals of the step).
    pub status_path: String,
}

/// Reads an `EpisodeOfCare` sent as an update of a contract now in `current`.
pub fn contract_change_from_fhir(
    v: &Value,
    current: ContractStatus,
) -> Result<EpisodeChangeIn, Outcome> {
    let node = Node::new(v, "EpisodeOfCare");
    node.resource_type("EpisodeOfCare")?;
    node.known_resource_elements(EPISODE_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let status = node.req("status")?;
    let fhir_status = status.string()?;
    let exact = match extension_of(&node, CONTRACT_STATUS_EXTENSION)? {
        Some(x) => {
            let c = x.req("valueCoding")?.req("code")?;
            let s = ContractStatus::parse_field("status", c.string()?)
                .map_err(|e| Outcome::from_explain(&e, &c.path))?;
            if episode_status(s) != fhir_status {
                return Err(Outcome::new(
                    IssueType::Invariant,
                    "invalid_field",
                    &c.path,
                    format!("签约状态 {} 与 status {fhir_status} 不一致", s.as_str()),
                    format!(
                        "contract state {} disagrees with status {fhir_status}",
                        s.as_str()
                    ),
                ));
            }
            Some((s, c.path.clone()))
        }
        None => None,
    };
    let (target, status_path) = match (exact, fhir_status) {
        (Some(x), _) => x,
        (None, "active") => (ContractStatus::Active, status.path.clone()),
        (None, "cancelled") => (ContractStatus::Cancelled, status.path.clone()),
        (None, "finished")
            if matches!(
                current,
                ContractStatus::Renewed | ContractStatus::Transferred | ContractStatus::Expired
            ) =>
        {
            (current, status.path.clone())
        }
        (None, "finished") => {
            let p = format!("{}.extension", node.path);
            return Err(Outcome::required(
                &p,
                format!(
                    "status 为 finished 时须以扩展 {CONTRACT_STATUS_EXTENSION} 注明续约、转签或到期"
                ),
                format!(
                    "with status finished, the extension {CONTRACT_STATUS_EXTENSION} must say renewed, transferred or expired"
                ),
            ));
        }
        (None, s) => {
            return Err(Outcome::not_supported(
                &status.path,
                format!("签约不能改为 {s}"),
                format!("a contract cannot become {s}"),
            ));
        }
    };
    let event = (target != current).then_some(match target {
        ContractStatus::Renewed => Some("renew"),
        ContractStatus::Cancelled => Some("cancel"),
        ContractStatus::Transferred => Some("transfer"),
        ContractStatus::Expired => Some("expire"),
        ContractStatus::Active => None,
    });
    let event = match event {
        Some(None) => {
            return Err(Outcome::new(
                IssueType::Processing,
                "illegal_transition",
                &status_path,
                format!("签约不能从 {} 回到 active", current.as_str()),
                format!(
                    "a contract cannot go back from {} to active",
                    current.as_str()
                ),
            )
            .with_status(409));
        }
        Some(Some(e)) => Some(e),
        None => None,
    };
    let reason = match extension_of(&node, CANCEL_REASON_EXTENSION)? {
        Some(x) => Some(x.req("valueString")?.string()?.trim().to_string()),
        None => None,
    };
    let team = match node.field("team") {
        Some(t) => t
            .array()?
            .first()
            .map(|n| read_ref(n, &["CareTeam"]))
            .transpose()?,
        None => None,
    };
    let doctor = match node.field("careManager") {
        Some(cm) => Some(read_ref(&cm, &["Practitioner"])?),
        None => None,
    };
    Ok(EpisodeChangeIn {
        id,
        target,
        event,
        reason,
        team,
        doctor,
        status_path,
    })
}

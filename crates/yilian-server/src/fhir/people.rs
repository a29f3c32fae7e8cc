//! The workforce and places registries as FHIR: `Practitioner`,
//! `PractitionerRole` (one per practice site), `Location` (an institution's
//! site, or a region) and `CareTeam` (a family doctor team). Reads need
//! `ReadRegistry`; writes go through the `/api/v1` registry checks
//! (`practitioner_data`, `team_data`), so the same region-scoped writers
//! and the same rules apply. Phones are masked in every answer, as in the
//! API's lists.
//!
//! A Practitioner carries no practice site (FHIR puts those on
//! PractitionerRole), and yilian registers a practitioner with 1–5 sites;
//! so a Practitioner is registered on `/api/v1` and **updated** here (its
//! sites kept), and its sites are read as PractitionerRoles.

use serde_json::Value;
use yilian_domain::access::{Action, Principal, allowed};
use yilian_domain::registry::{InstitutionKind, Profession, TeamRole};
use yilian_fhir::care::{self as fc, TeamFhir, TeamMemberFhir};
use yilian_fhir::location::{self as fl, LocationId, RegionFhir, SiteFhir};
use yilian_fhir::practitioner::{self as fpr, PracticeSite, PractitionerFhir};
use yilian_fhir::reference::Ref;
use yilian_fhir::{IssueType, Outcome};
use yilian_store::registry::{
    self, InstitutionFilter, Practitioner, PractitionerFilter, Team, TeamFilter,
};
use yilian_store::{Conn, Page};

use super::{FhirError, FhirResult, Found, Params, check_version, not_found, parse_id};
use crate::api::registry::{
    PractitionerInput, TeamInput, TeamMemberInput, practitioner_data, team_data,
};
use crate::error::ApiError;
use crate::state::AppState;

fn require_read(p: &Principal) -> FhirResult<()> {
    if allowed(p.role, Action::ReadRegistry) {
        Ok(())
    } else {
        Err(ApiError::forbidden().into())
    }
}

fn internal() -> FhirError {
    ApiError::internal().into()
}

fn found<T>(page: Page<T>, f: impl Fn(&T) -> FhirResult<Value>) -> FhirResult<Found> {
    Ok(Found {
        matches: page.items.iter().map(f).collect::<FhirResult<_>>()?,
        total: u64::try_from(page.total).unwrap_or(0),
        included: vec![],
    })
}

// ------------------------------------------------------------ Practitioner

fn practitioner_fhir(p: &Practitioner) -> FhirResult<PractitionerFhir> {
    let r = &p.row;
    Ok(PractitionerFhir {
        id: r.id,
        code: r.code.clone(),
        name: r.name.clone(),
        sex: r.sex.clone(),
        profession: Profession::parse(&r.profession).ok_or_else(internal)?,
        specialty: r.specialty.clone(),
        is_gp: r.is_gp.0,
        is_tcm: r.is_tcm.0,
        phone: yilian_domain::mask::mask_phone(&r.phone),
        sites: p
            .sites
            .iter()
            .map(|s| PracticeSite {
                institution_id: s.id,
                code: s.code.clone(),
                name: s.name.clone(),
            })
            .collect(),
        version: Some(r.version),
        last_updated: yilian_fhir::json::cst_to_fhir(&r.updated_at),
    })
}

async fn practitioner(c: &mut Conn, id: &str) -> FhirResult<Practitioner> {
    let n = parse_id("Practitioner", id)?;
    registry::get_practitioner(c, n)
        .await?
        .ok_or_else(|| not_found("Practitioner", id))
}

pub async fn read_practitioner(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    Ok(fpr::to_fhir(&practitioner_fhir(
        &practitioner(&mut c, id).await?,
    )?))
}

/// Practitioners matching `q` with their sites.
async fn practitioners(c: &mut Conn, q: &Params) -> FhirResult<(Vec<Practitioner>, u64)> {
    if let Some(id) = q.id()? {
        let p = registry::get_practitioner(c, id).await?;
        let n = u64::from(p.is_some());
        return Ok((p.into_iter().collect(), n));
    }
    if let Some((system, code)) = q.token("identifier")? {
        if system
            .as_deref()
            .is_some_and(|s| s != yilian_fhir::identifiers::PRACTITIONER_CODE_SYSTEM)
        {
            return Ok((vec![], 0));
        }
        let Some(row) = registry::get_practitioner_by_code(c, &code).await? else {
            return Ok((vec![], 0));
        };
        let p = registry::get_practitioner(c, row.id).await?;
        return Ok((p.into_iter().collect(), 1));
    }
    let f = PractitionerFilter {
        institution_id: q.reference("organization", "Organization")?,
        q: q.one("name")?.map(str::to_string),
        ..Default::default()
    };
    let page = registry::list_practitioners(c, &f, q.paging()).await?;
    let mut out = Vec::with_capacity(page.items.len());
    for r in &page.items {
        out.extend(registry::get_practitioner(c, r.id).await?);
    }
    Ok((out, u64::try_from(page.total).unwrap_or(0)))
}

pub async fn search_practitioners(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let (rows, total) = practitioners(&mut c, q).await?;
    Ok(Found {
        matches: rows
            .iter()
            .map(|r| Ok(fpr::to_fhir(&practitioner_fhir(r)?)))
            .collect::<FhirResult<_>>()?,
        total,
        included: vec![],
    })
}

pub async fn update_practitioner(
    s: &AppState,
    p: &Principal,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    let input = fpr::from_fhir(v)?;
    let mut tx = s.store.write().await?;
    let row = update_practitioner_in(&mut tx, p, id, &input, want).await?;
    tx.commit().await?;
    Ok(fpr::to_fhir(&practitioner_fhir(&row)?))
}

/// [`update_practitioner`] in the caller's transaction; the sites are kept.
pub async fn update_practitioner_in(
    tx: &mut Conn,
    p: &Principal,
    id: &str,
    input: &fpr::PractitionerIn,
    want: Option<i64>,
) -> FhirResult<Practitioner> {
    let old = practitioner(tx, id).await?;
    check_version(want, old.row.version)?;
    authorize_sites(tx, p, &old).await?;
    let sites = old.sites.iter().map(|s| s.code.clone()).collect();
    save_practitioner(tx, p, input, Some(&old), sites).await
}

/// The caller may write the practitioner's main site's region.
async fn authorize_sites(tx: &mut Conn, p: &Principal, old: &Practitioner) -> FhirResult<()> {
    if let Some(main) = old.sites.first() {
        let inst = registry::get_institution(tx, main.id)
            .await?
            .ok_or_else(internal)?;
        let region =
            yilian_domain::region::RegionCode::parse(&inst.region_code).map_err(|_| internal())?;
        crate::service::authorize_registry_write(p, &region)?;
    }
    Ok(())
}

/// Registers (`old` = None) or updates a practitioner with `sites`
/// (institution codes, main first) through the `/api/v1` checks.
async fn save_practitioner(
    tx: &mut Conn,
    p: &Principal,
    input: &fpr::PractitionerIn,
    old: Option<&Practitioner>,
    sites: Vec<String>,
) -> FhirResult<Practitioner> {
    let stored_phone = old.map(|o| o.row.phone.clone()).unwrap_or_default();
    let i = PractitionerInput {
        code: input.code.clone(),
        name: input.name.clone(),
        sex: input.sex.as_str().into(),
        profession: input.profession.as_str().into(),
        specialty: input.specialty.clone(),
        is_gp: input.is_gp,
        is_tcm: input.is_tcm,
        // A masked phone sent back unchanged keeps the stored one.
        phone: Some(if input.phone.is_empty() || input.phone.contains('*') {
            stored_phone
        } else {
            input.phone.clone()
        }),
        sites,
    };
    let d = practitioner_data(tx, p, &i).await?;
    Ok(match old {
        Some(o) => registry::update_practitioner(tx, o.row.id, o.row.version, &d).await?,
        None => registry::insert_practitioner(tx, &d).await?,
    })
}

/// Registers a practitioner with the practice sites of its PractitionerRoles
/// (a transaction bundle: yilian keeps 1–5 sites on the practitioner, the
/// main one first).
pub async fn register_practitioner_in(
    tx: &mut Conn,
    p: &Principal,
    input: &fpr::PractitionerIn,
    roles: &[&fpr::PractitionerRoleIn],
    created: &std::collections::HashMap<String, String>,
    path: &str,
) -> FhirResult<Practitioner> {
    if roles.is_empty() {
        return Err(FhirError(Outcome::required(
            path,
            "登记人员须在同一事务中附其执业地点（PractitionerRole）",
            "a Practitioner is registered with its practice sites: PractitionerRole entries in the same bundle",
        )));
    }
    let mut ordered: Vec<&&fpr::PractitionerRoleIn> = roles.iter().collect();
    ordered.sort_by_key(|r| !r.main);
    let mut sites = Vec::new();
    for r in ordered {
        let inst_path = r.paths.get("sites").to_string();
        let id = r
            .institution
            .resolve(created)
            .and_then(|i| i.parse::<i64>().ok())
            .ok_or_else(|| unknown(&inst_path, &r.institution))?;
        let inst = registry::get_institution(tx, id)
            .await?
            .ok_or_else(|| unknown(&inst_path, &r.institution))?;
        sites.push(inst.code);
    }
    save_practitioner(tx, p, input, None, sites).await
}

/// Adds a practice site to a stored practitioner (a PractitionerRole create).
pub async fn add_site_in(
    tx: &mut Conn,
    p: &Principal,
    role: &fpr::PractitionerRoleIn,
) -> FhirResult<Value> {
    let pr_path = role.paths.get("practitioner_id").to_string();
    let pid = stored_id(&role.practitioner, &pr_path)?;
    let old = registry::get_practitioner(tx, pid)
        .await?
        .ok_or_else(|| unknown(&pr_path, &role.practitioner))?;
    let inst_path = role.paths.get("sites").to_string();
    let iid = stored_id(&role.institution, &inst_path)?;
    let inst = registry::get_institution(tx, iid)
        .await?
        .ok_or_else(|| unknown(&inst_path, &role.institution))?;
    if old.sites.iter().any(|s| s.id == iid) {
        return Err(FhirError(Outcome::new(
            IssueType::Duplicate,
            "duplicate",
            &inst_path,
            "该机构已是其执业地点",
            "the institution is already a practice site",
        )));
    }
    authorize_sites(tx, p, &old).await?;
    let mut sites: Vec<String> = old.sites.iter().map(|s| s.code.clone()).collect();
    if role.main {
        sites.insert(0, inst.code);
    } else {
        sites.push(inst.code);
    }
    let input = fpr::PractitionerIn {
        id: None,
        code: old.row.code.clone(),
        name: old.row.name.clone(),
        sex: yilian_domain::id_number::Sex::parse(&old.row.sex).ok_or_else(internal)?,
        profession: Profession::parse(&old.row.profession).ok_or_else(internal)?,
        specialty: old.row.specialty.clone(),
        is_gp: old.row.is_gp.0,
        is_tcm: old.row.is_tcm.0,
        phone: String::new(),
        paths: role.paths.clone(),
    };
    let row = save_practitioner(tx, p, &input, Some(&old), sites).await?;
    role_of(&row, iid)
}

/// The PractitionerRole of `practitioner` at `institution_id`.
pub fn role_of(practitioner: &Practitioner, institution_id: i64) -> FhirResult<Value> {
    practitioner_fhir(practitioner)?
        .roles()
        .iter()
        .find(|r| r.institution_id == institution_id)
        .map(fpr::role_to_fhir)
        .ok_or_else(internal)
}

pub async fn create_role(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let role = fpr::role_from_fhir(v)?;
    let mut tx = s.store.write().await?;
    let out = add_site_in(&mut tx, p, &role).await?;
    tx.commit().await?;
    Ok(out)
}

pub async fn read_role(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    require_read(p)?;
    let (pid, iid) = fpr::parse_role_id(id).ok_or_else(|| not_found("PractitionerRole", id))?;
    let mut c = s.store.read().await?;
    let pr = practitioner(&mut c, &pid.to_string()).await?;
    let f = practitioner_fhir(&pr)?;
    f.roles()
        .iter()
        .find(|r| r.institution_id == iid)
        .map(fpr::role_to_fhir)
        .ok_or_else(|| not_found("PractitionerRole", id))
}

pub async fn search_roles(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let org = q.reference("organization", "Organization")?;
    let pr = q.reference("practitioner", "Practitioner")?;
    let rows: Vec<Practitioner> = match pr {
        Some(id) => registry::get_practitioner(&mut c, id)
            .await?
            .into_iter()
            .collect(),
        None => {
            let Some(org) = org else {
                return Err(FhirError(
                    Outcome::required(
                        "practitioner",
                        "检索 PractitionerRole 须指定 practitioner 或 organization",
                        "a PractitionerRole search needs practitioner or organization",
                    )
                    .with_status(400),
                ));
            };
            let f = PractitionerFilter {
                institution_id: Some(org),
                ..Default::default()
            };
            let page = registry::list_practitioners(&mut c, &f, q.paging()).await?;
            let mut v = Vec::new();
            for r in &page.items {
                v.extend(registry::get_practitioner(&mut c, r.id).await?);
            }
            v
        }
    };
    let mut matches = Vec::new();
    for r in &rows {
        for role in practitioner_fhir(r)?.roles() {
            if org.is_none_or(|o| o == role.institution_id) {
                matches.push(fpr::role_to_fhir(&role));
            }
        }
    }
    Ok(Found {
        total: matches.len() as u64,
        matches,
        included: vec![],
    })
}

// ------------------------------------------------------------ Location

fn site(i: &registry::InstitutionRow) -> FhirResult<Value> {
    Ok(fl::site_to_fhir(&SiteFhir {
        institution_id: i.id,
        code: i.code.clone(),
        name: i.name.clone(),
        kind: InstitutionKind::parse(&i.kind).ok_or_else(internal)?,
        region_code: i.region_code.clone(),
        address: i.address.clone(),
        lon: i.lon,
        lat: i.lat,
        version: Some(i.version),
    }))
}

fn region(r: &registry::RegionRow) -> FhirResult<Value> {
    fl::region_to_fhir(&RegionFhir {
        code: r.code.clone(),
        name: r.name.clone(),
        lon: r.lon,
        lat: r.lat,
        version: Some(r.version),
    })
    .ok_or_else(internal)
}

pub async fn read_location(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    match fl::parse_location_id(id) {
        Some(LocationId::Site(n)) => site(
            &registry::get_institution(&mut c, n)
                .await?
                .ok_or_else(|| not_found("Location", id))?,
        ),
        Some(LocationId::Region(code)) => region(
            &registry::get_region(&mut c, &code)
                .await?
                .ok_or_else(|| not_found("Location", id))?,
        ),
        None => Err(not_found("Location", id)),
    }
}

/// Locations are searched as sites: by `organization`, `name`, or within
/// a region (`partof=Location/region-{code}`).
pub async fn search_locations(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    if let Some(id) = q.one("_id")? {
        let r = read_location(s, p, id).await;
        return Ok(match r {
            Ok(v) => Found {
                matches: vec![v],
                total: 1,
                included: vec![],
            },
            Err(_) => Found::default(),
        });
    }
    let within = match q.one("partof")? {
        Some(v) => {
            let id = v.strip_prefix("Location/").unwrap_or(v);
            match fl::parse_location_id(id) {
                Some(LocationId::Region(code)) => Some(code),
                _ => return Ok(Found::default()),
            }
        }
        None => None,
    };
    if let Some(org) = q.reference("organization", "Organization")? {
        let row = registry::get_institution(&mut c, org).await?;
        return Ok(Found {
            total: u64::from(row.is_some()),
            matches: row.iter().map(site).collect::<FhirResult<_>>()?,
            included: vec![],
        });
    }
    let f = InstitutionFilter {
        within,
        q: q.one("name")?.map(str::to_string),
        ..Default::default()
    };
    found(
        registry::list_institutions(&mut c, &f, q.paging()).await?,
        site,
    )
}

// ------------------------------------------------------------ CareTeam

async fn team_fhir(c: &mut Conn, t: &Team) -> FhirResult<Value> {
    let inst = registry::get_institution(c, t.row.institution_id)
        .await?
        .ok_or_else(internal)?;
    Ok(fc::team_to_fhir(&TeamFhir {
        id: t.row.id,
        code: t.row.code.clone(),
        name: t.row.name.clone(),
        institution_id: inst.id,
        institution_name: inst.name,
        capacity: t.row.capacity,
        members: t
            .members
            .iter()
            .map(|m| {
                Ok(TeamMemberFhir {
                    practitioner_id: m.practitioner_id,
                    name: m.name.clone(),
                    role: TeamRole::parse(&m.role).ok_or_else(internal)?,
                })
            })
            .collect::<FhirResult<_>>()?,
        version: Some(t.row.version),
    }))
}

async fn team(c: &mut Conn, id: &str) -> FhirResult<Team> {
    let n = parse_id("CareTeam", id)?;
    registry::get_team(c, n)
        .await?
        .ok_or_else(|| not_found("CareTeam", id))
}

pub async fn read_team(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let t = team(&mut c, id).await?;
    team_fhir(&mut c, &t).await
}

pub async fn search_teams(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let ids: Vec<i64> = if let Some(id) = q.id()? {
        vec![id]
    } else {
        let f = TeamFilter {
            institution_id: q.reference("organization", "Organization")?,
            practitioner_id: q.reference("participant", "Practitioner")?,
            q: q.one("name")?.map(str::to_string),
        };
        let page = registry::list_teams(&mut c, &f, q.paging()).await?;
        let total = u64::try_from(page.total).unwrap_or(0);
        let mut matches = Vec::new();
        for r in &page.items {
            if let Some(t) = registry::get_team(&mut c, r.id).await? {
                matches.push(team_fhir(&mut c, &t).await?);
            }
        }
        return Ok(Found {
            matches,
            total,
            included: vec![],
        });
    };
    let mut matches = Vec::new();
    for id in ids {
        if let Some(t) = registry::get_team(&mut c, id).await? {
            matches.push(team_fhir(&mut c, &t).await?);
        }
    }
    Ok(Found {
        total: matches.len() as u64,
        matches,
        included: vec![],
    })
}

/// A stored reference's id (`Type/12` → 12); placeholders are for transactions.
pub fn stored_id(r: &Ref, path: &str) -> FhirResult<i64> {
    match r {
        Ref::Stored { id, .. } => id.parse().map_err(|_| unknown(path, r)),
        Ref::Placeholder(_) => Err(unknown(path, r)),
    }
}

fn unknown(path: &str, r: &Ref) -> FhirError {
    FhirError(Outcome::new(
        IssueType::NotFound,
        "unknown_reference",
        path,
        format!("引用 {} 无法解析", r.as_reference()),
        format!("reference {} cannot be resolved", r.as_reference()),
    ))
}

/// The `/api/v1` team input a CareTeam amounts to (ids → codes).
async fn team_input(c: &mut Conn, t: &fc::CareTeamIn) -> FhirResult<TeamInput> {
    let inst_path = t.paths.get("institution_code").to_string();
    let inst_id = stored_id(&t.institution, &inst_path)?;
    let inst = registry::get_institution(c, inst_id)
        .await?
        .ok_or_else(|| unknown(&inst_path, &t.institution))?;
    let mut members = Vec::new();
    for (i, m) in t.members.iter().enumerate() {
        let path = t.member_path(i);
        let pid = stored_id(&m.practitioner, &path)?;
        let pr = registry::get_practitioner(c, pid)
            .await?
            .ok_or_else(|| unknown(&path, &m.practitioner))?;
        members.push(TeamMemberInput {
            practitioner_code: pr.row.code,
            role: m.role.as_str().into(),
        });
    }
    Ok(TeamInput {
        code: t.code.clone(),
        name: t.name.clone(),
        institution_code: inst.code,
        capacity: t.capacity,
        members,
    })
}

pub async fn create_team(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let t = fc::team_from_fhir(v)?;
    let mut tx = s.store.write().await?;
    let i = team_input(&mut tx, &t).await?;
    let d = team_data(&mut tx, p, &i).await?;
    let row = registry::insert_team(&mut tx, &d).await?;
    let out = team_fhir(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(out)
}

pub async fn update_team(
    s: &AppState,
    p: &Principal,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    let t = fc::team_from_fhir(v)?;
    let mut tx = s.store.write().await?;
    let old = team(&mut tx, id).await?;
    check_version(want, old.row.version)?;
    // The team's current institution must be the caller's to write, too.
    let inst = registry::get_institution(&mut tx, old.row.institution_id)
        .await?
        .ok_or_else(internal)?;
    let region =
        yilian_domain::region::RegionCode::parse(&inst.region_code).map_err(|_| internal())?;
    crate::service::authorize_registry_write(p, &region)?;
    let i = team_input(&mut tx, &t).await?;
    let d = team_data(&mut tx, p, &i).await?;
    let row = registry::update_team(&mut tx, old.row.id, old.row.version, &d).await?;
    let out = team_fhir(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(out)
}

//! `EpisodeOfCare` (the family-doctor contract, 签约), `Consent` (the
//! resident's record-sharing grant, 授权) and `Coverage` (the resident's
//! basic medical insurance) through the same services as `/api/v1`.
//!
//! - EpisodeOfCare: read and search by care roles within their residents'
//!   scope; create is signing (`care::sign`, with its caps and rules).
//!   Renew, cancel and transfer stay contract events on `/api/v1`.
//! - Consent: the resident's own — read, search, create (grant) and update
//!   to `inactive` (revoke), as on `/api/v1/me/consents`.
//! - Coverage: `Coverage/{resident id}`; read and search within the
//!   resident scope, update changes the resident's insurance (a correction
//!   of the resident, versioned with it).

use chrono::NaiveDate;
use serde_json::Value;
use yilian_domain::access::{Action, Principal, Role, allowed, resident_scope};
use yilian_domain::contract::ContractStatus;
use yilian_domain::registry::Insurance;
use yilian_domain::resident::ResidentInput;
use yilian_fhir::capability::{Interaction, ParamType, ResourceSupport};
use yilian_fhir::care::{self as fc, ContractFhir};
use yilian_fhir::consent::{self as fcs, ConsentFhir, Grantee};
use yilian_fhir::coverage::{self as fcv, CoverageFhir};
use yilian_fhir::{IssueType, Outcome};
use yilian_store::care::{self as store, ContractFilter, ContractRow};
use yilian_store::records::ConsentRow;
use yilian_store::{Conn, registry, residents};

use super::people::stored_id;
use super::{
    FhirError, FhirResult, Found, Params, check_version, not_found, parse_id, unsupported,
};
use crate::care::{SignRequest, visible_resident};
use crate::error::ApiError;
use crate::record::{ConsentRequest, grant_consent, my_consents, revoke_consent};
use crate::state::AppState;

/// What this module serves (see [`super::support`]).
pub fn support() -> Vec<ResourceSupport> {
    use Interaction::{Create, Read, SearchType, Update};
    use ParamType::{Date, Reference, Token};
    vec![
        ResourceSupport::new("EpisodeOfCare", &[Read, SearchType, Create, Update])
            .search(&[
                ("_id", Token),
                ("patient", Reference),
                ("status", Token),
                ("care-manager", Reference),
                ("team", Reference),
            ])
            .versioned(),
        ResourceSupport::new("Consent", &[Read, SearchType, Create, Update]).search(&[
            ("_id", Token),
            ("patient", Reference),
            ("status", Token),
            ("date", Date),
        ]),
        ResourceSupport::new("Coverage", &[Read, SearchType, Update])
            .search(&[
                ("_id", Token),
                ("beneficiary", Reference),
                ("patient", Reference),
            ])
            .versioned(),
    ]
}

fn internal() -> FhirError {
    ApiError::internal().into()
}

// ------------------------------------------------------------ EpisodeOfCare

/// Care roles and fee managers read contracts (as `/api/v1/contracts`).
fn may_read_contracts(p: &Principal) -> FhirResult<()> {
    if allowed(p.role, Action::WriteCare) || allowed(p.role, Action::ManageFees) {
        Ok(())
    } else {
        Err(ApiError::forbidden().into())
    }
}

async fn episode(c: &mut Conn, k: &ContractRow) -> FhirResult<Value> {
    let packages = store::contract_packages(c, k.id)
        .await?
        .into_iter()
        .map(|(code, _)| code)
        .collect();
    let team = registry::get_team(c, k.team_id).await?;
    Ok(fc::contract_to_fhir(&ContractFhir {
        id: k.id,
        resident_id: k.resident_id,
        team_id: k.team_id,
        team_name: k.team_name.clone(),
        doctor_id: k.doctor_id,
        doctor_name: k.doctor_name.clone(),
        institution_id: team.map(|t| t.row.institution_id),
        start_date: k.start_date.clone(),
        end_date: k.end_date.clone(),
        status: ContractStatus::parse(&k.status).ok_or_else(internal)?,
        packages,
        secondary_hospital_id: k.secondary_hospital_id,
        tertiary_hospital_id: k.tertiary_hospital_id,
        fee_fen: k.fee_fen,
        cancel_reason: k.cancel_reason.clone(),
        previous_id: k.previous_id,
        version: Some(k.version),
    }))
}

async fn read_episode(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    may_read_contracts(p)?;
    let n = parse_id("EpisodeOfCare", id)?;
    let mut c = s.store.read().await?;
    let k = store::get_contract(&mut c, n)
        .await?
        .ok_or_else(|| not_found("EpisodeOfCare", id))?;
    visible_resident(&mut c, p, k.resident_id).await?;
    episode(&mut c, &k).await
}

async fn search_episodes(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    may_read_contracts(p)?;
    let mut c = s.store.read().await?;
    let resident_id = q.reference("patient", "Patient")?;
    if let Some(r) = resident_id {
        visible_resident(&mut c, p, r).await?;
    }
    // FHIR status → the yilian statuses it stands for.
    let statuses: Vec<&str> = match q.token("status")?.map(|(_, v)| v) {
        None => vec![],
        Some(v) => {
            let all: Vec<&str> = ContractStatus::ALL
                .iter()
                .filter(|st| fc::episode_status(**st) == v)
                .map(|st| st.as_str())
                .collect();
            if all.is_empty() {
                return Ok(Found::default());
            }
            all
        }
    };
    let f = ContractFilter {
        team_id: q.reference("team", "CareTeam")?,
        doctor_id: q.reference("care-manager", "Practitioner")?,
        resident_id,
        // One yilian status narrows in SQL; several (finished) filter below.
        status: (statuses.len() == 1).then(|| statuses[0].to_string()),
        household_code: None,
    };
    let scope = resident_scope(p);
    let page = store::list_contracts(&mut c, &f, &scope, q.paging()).await?;
    let id = q.id()?;
    let mut matches = Vec::new();
    for k in page
        .items
        .iter()
        .filter(|k| statuses.is_empty() || statuses.contains(&k.status.as_str()))
        .filter(|k| id.is_none_or(|i| i == k.id))
    {
        matches.push(episode(&mut c, k).await?);
    }
    let total = if statuses.len() > 1 || id.is_some() {
        matches.len() as u64
    } else {
        u64::try_from(page.total).unwrap_or(0)
    };
    Ok(Found {
        matches,
        total,
        included: vec![],
    })
}

async fn institution_code(
    c: &mut Conn,
    r: &yilian_fhir::reference::Ref,
    path: &str,
) -> FhirResult<String> {
    let id = stored_id(r, path)?;
    Ok(registry::get_institution(c, id)
        .await?
        .ok_or_else(|| not_found("Organization", &id.to_string()))?
        .code)
}

async fn create_episode(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let e = fc::contract_from_fhir(v, s.today())?;
    let team_id = stored_id(&e.team, e.paths.get("team_id"))?;
    let mut req = SignRequest {
        resident_id: Some(stored_id(&e.patient, e.paths.get("resident_id"))?),
        household_code: None,
        team_id,
        doctor_id: e
            .doctor
            .as_ref()
            .map(|d| stored_id(d, e.paths.get("doctor_id")))
            .transpose()?,
        packages: e.packages.clone(),
        start_date: e.start_date.map(|d: NaiveDate| d.to_string()),
        secondary_hospital_code: None,
        tertiary_hospital_code: None,
    };
    {
        let mut c = s.store.read().await?;
        if let Some(h) = &e.secondary_hospital {
            req.secondary_hospital_code =
                Some(institution_code(&mut c, h, e.paths.get("secondary_hospital_code")).await?);
        }
        if let Some(h) = &e.tertiary_hospital {
            req.tertiary_hospital_code =
                Some(institution_code(&mut c, h, e.paths.get("tertiary_hospital_code")).await?);
        }
        if let Some(org) = &e.managing_organization {
            let team = registry::get_team(&mut c, team_id)
                .await?
                .ok_or_else(|| not_found("CareTeam", &team_id.to_string()))?;
            if stored_id(org, "EpisodeOfCare.managingOrganization")? != team.row.institution_id {
                return Err(FhirError(Outcome::new(
                    IssueType::Invariant,
                    "invalid_fhir",
                    "EpisodeOfCare.managingOrganization",
                    "managingOrganization 须为签约团队所属机构",
                    "managingOrganization must be the team's institution",
                )));
            }
        }
    }
    let rows = crate::care::sign(&s.store, p, &req, s.today(), &s.settings.caps).await?;
    let k = rows.first().ok_or_else(internal)?;
    let mut c = s.store.read().await?;
    episode(&mut c, k).await
}

/// An update is a contract event (renew, cancel with a reason, transfer to
/// another team, expire) run by `care::change` and its state machine; the
/// answer is this contract in its new state (a renewal or transfer's new
/// contract is found by searching the patient's EpisodeOfCare).
async fn update_episode(
    s: &AppState,
    p: &Principal,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    let n = parse_id("EpisodeOfCare", id)?;
    let current = {
        let mut c = s.store.read().await?;
        let k = store::get_contract(&mut c, n)
            .await?
            .ok_or_else(|| not_found("EpisodeOfCare", id))?;
        visible_resident(&mut c, p, k.resident_id).await?;
        k
    };
    check_version(want, current.version)?;
    let status = ContractStatus::parse(&current.status).ok_or_else(internal)?;
    let ch = fc::contract_change_from_fhir(v, status)?;
    let Some(event) = ch.event else {
        let mut c = s.store.read().await?;
        return episode(&mut c, &current).await;
    };
    let (team_id, doctor_id) = if event == "transfer" {
        (
            ch.team
                .as_ref()
                .map(|t| stored_id(t, "EpisodeOfCare.team[0].reference"))
                .transpose()?
                .filter(|t| *t != current.team_id),
            ch.doctor
                .as_ref()
                .map(|d| stored_id(d, "EpisodeOfCare.careManager.reference"))
                .transpose()?,
        )
    } else {
        (None, None)
    };
    let change = crate::care::ContractChange {
        event: event.into(),
        reason: ch.reason.clone(),
        team_id,
        doctor_id,
    };
    crate::care::change(&s.store, p, n, &change, s.today(), &s.settings.caps)
        .await
        .map_err(|e| {
            let mut f = FhirError::from(e);
            for i in &mut f.0.issues {
                i.expression.get_or_insert_with(|| ch.status_path.clone());
            }
            f
        })?;
    let mut c = s.store.read().await?;
    let k = store::get_contract(&mut c, n).await?.ok_or_else(internal)?;
    episode(&mut c, &k).await
}

// ------------------------------------------------------------ Consent

fn consent(r: &ConsentRow) -> FhirResult<Value> {
    Ok(fcs::to_fhir(&ConsentFhir {
        id: r.id,
        resident_id: r.resident_id,
        grantee_kind: yilian_domain::record::GranteeKind::parse(&r.grantee_kind)
            .ok_or_else(internal)?,
        grantee_id: r.grantee_id,
        grantee_name: r.grantee_name.clone(),
        starts_on: r.starts_on.clone(),
        ends_on: r.ends_on.clone(),
        note: r.note.clone(),
        revoked_at: r.revoked_at.clone(),
        created_at: r.created_at.clone(),
    }))
}

async fn read_consent(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    let n = parse_id("Consent", id)?;
    my_consents(&s.store, p)
        .await?
        .iter()
        .find(|c| c.id == n)
        .map(consent)
        .ok_or_else(|| not_found("Consent", id))?
}

async fn search_consents(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    let mine = my_consents(&s.store, p).await?;
    let id = q.id()?;
    let patient = q.reference("patient", "Patient")?;
    let status = q.token("status")?.map(|(_, v)| v);
    let (from, before) = q.date("date")?.dates();
    let rows: Vec<&ConsentRow> = mine
        .iter()
        .filter(|c| id.is_none_or(|i| i == c.id))
        .filter(|c| patient.is_none_or(|r| r == c.resident_id))
        .filter(|c| {
            status.as_deref().is_none_or(|st| {
                st == if c.revoked_at.is_some() {
                    "inactive"
                } else {
                    "active"
                }
            })
        })
        .filter(|c| {
            let day = c.created_at.get(..10).unwrap_or("");
            from.as_deref().is_none_or(|f| day >= f) && before.as_deref().is_none_or(|b| day < b)
        })
        .collect();
    Ok(Found {
        total: rows.len() as u64,
        matches: rows
            .iter()
            .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
            .take(q.count as usize)
            .map(|c| consent(c))
            .collect::<FhirResult<_>>()?,
        included: vec![],
    })
}

/// The grantee as the API names it, checked against the request's patient.
fn consent_request(p: &Principal, c: &fcs::ConsentIn) -> FhirResult<ConsentRequest> {
    let patient_path = c.paths.get("resident_id").to_string();
    if p.role != Role::Resident || p.resident_id != Some(stored_id(&c.patient, &patient_path)?) {
        return Err(FhirError(Outcome::new(
            IssueType::Forbidden,
            "forbidden",
            &patient_path,
            "授权只能由居民本人办理",
            "a consent is granted by the resident themself",
        )));
    }
    let grantee_id = match &c.grantee {
        Grantee::Institution(r) => stored_id(r, c.paths.get("grantee_id"))?,
        Grantee::Consortium(id) => *id,
    };
    Ok(ConsentRequest {
        grantee_kind: c.grantee.kind().as_str().into(),
        grantee_id,
        starts_on: Some(c.starts_on.to_string()),
        ends_on: c.ends_on.to_string(),
        note: c.note.clone(),
    })
}

async fn create_consent(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let c = fcs::from_fhir(v, s.today())?;
    if !c.active {
        return Err(FhirError(Outcome::value(
            "Consent.status",
            "新建授权的状态应为 active",
            "a new consent is active",
        )));
    }
    let req = consent_request(p, &c)?;
    consent(&grant_consent(&s.store, p, &req).await?)
}

/// Updating a consent can only revoke it (`status` inactive): the grant
/// itself is not edited, a new one is made instead.
async fn update_consent(s: &AppState, p: &Principal, id: &str, v: &Value) -> FhirResult<Value> {
    let n = parse_id("Consent", id)?;
    let c = fcs::from_fhir(v, s.today())?;
    consent_request(p, &c)?;
    let current = my_consents(&s.store, p)
        .await?
        .into_iter()
        .find(|c| c.id == n)
        .ok_or_else(|| not_found("Consent", id))?;
    match (c.active, current.revoked_at.is_some()) {
        (false, false) => consent(&revoke_consent(&s.store, p, n).await?),
        (false, true) => consent(&current),
        (true, revoked) => {
            let unchanged = !revoked
                && c.starts_on.to_string() == current.starts_on
                && c.ends_on.to_string() == current.ends_on;
            if unchanged {
                consent(&current)
            } else {
                Err(FhirError(Outcome::new(
                    IssueType::NotSupported,
                    "not_supported",
                    "Consent.status",
                    "授权只能撤销（status = inactive），变更请新建授权",
                    "a consent can only be revoked (status inactive); grant a new one to change it",
                )))
            }
        }
    }
}

// ------------------------------------------------------------ Coverage

fn coverage(r: &residents::ResidentRow) -> FhirResult<Option<Value>> {
    let insurance = Insurance::parse(&r.insurance).ok_or_else(internal)?;
    Ok(fcv::to_fhir(&CoverageFhir {
        resident_id: r.id,
        resident_name: r.name.clone(),
        insurance,
        version: Some(r.version),
    }))
}

fn may_read_residents(p: &Principal) -> FhirResult<()> {
    if allowed(p.role, Action::ReadResident) {
        Ok(())
    } else {
        Err(ApiError::forbidden().into())
    }
}

async fn read_coverage(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    may_read_residents(p)?;
    let n = parse_id("Coverage", id)?;
    let mut c = s.store.read().await?;
    let r = visible_resident(&mut c, p, n)
        .await
        .map_err(|_| not_found("Coverage", id))?;
    coverage(&r)?.ok_or_else(|| not_found("Coverage", id))
}

async fn search_coverage(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    may_read_residents(p)?;
    let ids = [
        q.id()?,
        q.reference("beneficiary", "Patient")?,
        q.reference("patient", "Patient")?,
    ];
    let mut want = ids.iter().flatten();
    let Some(first) = want.next().copied() else {
        return Err(FhirError(
            Outcome::required(
                "beneficiary",
                "检索 Coverage 须指定 beneficiary（或 patient、_id）",
                "a Coverage search needs beneficiary (or patient, _id)",
            )
            .with_status(400),
        ));
    };
    if want.any(|i| *i != first) {
        return Ok(Found::default());
    }
    let mut c = s.store.read().await?;
    let Ok(r) = visible_resident(&mut c, p, first).await else {
        return Ok(Found::default());
    };
    let matches: Vec<Value> = coverage(&r)?.into_iter().collect();
    Ok(Found {
        total: matches.len() as u64,
        matches,
        included: vec![],
    })
}

async fn update_coverage(
    s: &AppState,
    p: &Principal,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    let n = parse_id("Coverage", id)?;
    let cv = fcv::from_fhir(v)?;
    let beneficiary = stored_id(&cv.patient, cv.paths.get("resident_id"))?;
    if beneficiary != n {
        return Err(FhirError(Outcome::new(
            IssueType::Invariant,
            "invalid_fhir",
            cv.paths.get("resident_id"),
            format!("Coverage/{n} 的参保人应为 Patient/{n}"),
            format!("Coverage/{n} covers Patient/{n}"),
        )));
    }
    let mut tx = s.store.write().await?;
    let r = visible_resident(&mut tx, p, n).await?;
    check_version(want, r.version)?;
    let mut input = ResidentInput {
        id_number: r.id_number.clone(),
        name: r.name.clone(),
        phone: r.phone.clone(),
        sex: Some(r.sex.clone()),
        birth_date: Some(r.birth_date.clone()),
        address: Some(r.address.clone()),
        ..Default::default()
    };
    super::patient::keep_unmapped(&mut input, &r);
    input.insurance = Some(cv.insurance.as_str().into());
    let d = crate::service::update_resident_in(&mut tx, p, n, r.version, &input, s.today()).await?;
    let row = residents::get(&mut tx, d.id).await?.ok_or_else(internal)?;
    tx.commit().await?;
    // An uninsured resident has no Coverage left to show: answer with the
    // cancelled one the client sent, at the new version.
    Ok(coverage(&row)?.unwrap_or_else(|| {
        let mut v = v.clone();
        v["meta"] = serde_json::json!({ "versionId": row.version.to_string() });
        v
    }))
}

// ------------------------------------------------------------ dispatch

pub async fn read(s: &AppState, p: &Principal, rt: &str, id: &str) -> FhirResult<Value> {
    match rt {
        "EpisodeOfCare" => read_episode(s, p, id).await,
        "Consent" => read_consent(s, p, id).await,
        "Coverage" => read_coverage(s, p, id).await,
        _ => Err(unsupported(rt)),
    }
}

pub async fn search(s: &AppState, p: &Principal, rt: &str, q: &Params) -> FhirResult<Found> {
    match rt {
        "EpisodeOfCare" => search_episodes(s, p, q).await,
        "Consent" => search_consents(s, p, q).await,
        "Coverage" => search_coverage(s, p, q).await,
        _ => Err(unsupported(rt)),
    }
}

pub async fn create(s: &AppState, p: &Principal, rt: &str, v: &Value) -> FhirResult<Value> {
    match rt {
        "EpisodeOfCare" => create_episode(s, p, v).await,
        "Consent" => create_consent(s, p, v).await,
        _ => Err(unsupported(rt)),
    }
}

pub async fn update(
    s: &AppState,
    p: &Principal,
    rt: &str,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    match rt {
        "EpisodeOfCare" => update_episode(s, p, id, v, want).await,
        "Consent" => update_consent(s, p, id, v).await,
        "Coverage" => update_coverage(s, p, id, v, want).await,
        _ => Err(unsupported(rt)),
    }
}
